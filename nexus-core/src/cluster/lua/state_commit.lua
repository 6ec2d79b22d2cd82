-- Commits one request's buffered writes to a partition's state, fenced: refused ({0, fence})
-- when another owner raised the fence above ARGV[1]. ARGV: epoch, then triples
-- (op, field, value) with op "s" (set), "d" (delete) or "i" (increment by value).
-- KEYS[1]: the state hash. Returns {1, field, new value, ...} for the increments.
local epoch = tonumber(ARGV[1])
local fence = tonumber(redis.call('HGET', KEYS[1], '@fence') or '0')
if fence > epoch then return {0, tostring(fence)} end
local out = {1}
for i = 2, #ARGV, 3 do
  local op, f, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 's' then redis.call('HSET', KEYS[1], f, v)
  elseif op == 'd' then redis.call('HDEL', KEYS[1], f)
  elseif op == 'i' then
    table.insert(out, f); table.insert(out, tostring(redis.call('HINCRBY', KEYS[1], f, v)))
  end
end
redis.call('HSET', KEYS[1], '@fence', epoch)
return out
