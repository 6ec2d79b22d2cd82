-- Loads one partition's streamlet state for an owner at epoch ARGV[1], raising the fence to
-- it (a previous owner can no longer commit). Refused ({0, fence}) when the fence is newer.
-- KEYS[1]: the state hash. Returns {1, field, value, ...} without the @fence field.
local epoch = tonumber(ARGV[1])
local fence = tonumber(redis.call('HGET', KEYS[1], '@fence') or '0')
if fence > epoch then return {0, tostring(fence)} end
if fence < epoch then redis.call('HSET', KEYS[1], '@fence', epoch) end
local all = redis.call('HGETALL', KEYS[1])
local out = {1}
for i = 1, #all, 2 do
  if all[i] ~= '@fence' then table.insert(out, all[i]); table.insert(out, all[i + 1]) end
end
return out
