-- Applies a batch of changes atomically (see ../redis_keys.rs for the layout and
-- ../embedded.rs `plan` for the same rules in Rust).
--
-- ARGV[1] = prefix, ARGV[2] = schema version, ARGV[3] = expected revision or "",
-- ARGV[4] = now (unix ms), ARGV[5] = number of changes, then five per change:
-- op ("put" | "del"), kind, name, digest ("" for del), body ("" for del).
--
-- Returns {"conflict", current revision} or
-- {"ok", revision, changed ("1" | "0"), outcome_1, version_1, outcome_2, version_2, ...}.
-- Every check runs before the first write, so a refused batch changes nothing.
local p = ARGV[1]
local schema_key = p .. 'schema'
local rev_key = p .. 'revision'

local schema = redis.call('GET', schema_key)
if not schema then
  if redis.call('EXISTS', rev_key) == 1 then
    return redis.error_reply('NEXUS_SCHEMA unmarked')
  end
  -- An empty namespace (a new or flushed Redis): start it at this layout.
  redis.call('SET', schema_key, ARGV[2])
elseif schema ~= ARGV[2] then
  return redis.error_reply('NEXUS_SCHEMA ' .. schema)
end

local rev = tonumber(redis.call('GET', rev_key) or '0')
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= rev then
  return {'conflict', tostring(rev)}
end

local n = tonumber(ARGV[5])
local plan = {}
local any = false
for i = 0, n - 1 do
  local b = 6 + i * 5
  local op, kind, name, digest = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local key = p .. 'res:' .. kind .. ':' .. name
  local cur = redis.call('HMGET', key, 'digest', 'version')
  local outcome, version
  if op == 'put' then
    if cur[1] == digest then
      outcome, version = 'unchanged', tonumber(cur[2])
    elseif cur[1] then
      outcome, version = 'updated', tonumber(cur[2]) + 1
    else
      local last = redis.call('HGET', p .. 'tomb:' .. kind, name)
      outcome, version = 'created', tonumber(last or '0') + 1
    end
  elseif cur[2] then
    outcome, version = 'deleted', tonumber(cur[2])
  else
    outcome, version = 'absent', 0
  end
  if outcome ~= 'unchanged' and outcome ~= 'absent' then
    any = true
  end
  plan[i + 1] = {outcome, version, b}
end

local reply = {'ok', tostring(rev), '0'}
if any then
  rev = redis.call('INCR', rev_key)
  reply[2] = tostring(rev)
  reply[3] = '1'
  local changes = {}
  for _, step in ipairs(plan) do
    local outcome, version, b = step[1], step[2], step[3]
    local kind, name = ARGV[b + 1], ARGV[b + 2]
    local key = p .. 'res:' .. kind .. ':' .. name
    if outcome == 'created' or outcome == 'updated' then
      redis.call('HSET', key, 'version', tostring(version), 'revision', tostring(rev),
        'digest', ARGV[b + 3], 'updated_ms', ARGV[4], 'body', ARGV[b + 4])
      redis.call('SADD', p .. 'idx:' .. kind, name)
      redis.call('HDEL', p .. 'tomb:' .. kind, name)
      changes[#changes + 1] = {kind = kind, name = name, op = 'put', version = version}
    elseif outcome == 'deleted' then
      redis.call('DEL', key)
      redis.call('SREM', p .. 'idx:' .. kind, name)
      redis.call('HSET', p .. 'tomb:' .. kind, name, tostring(version))
      changes[#changes + 1] = {kind = kind, name = name, op = 'delete', version = version}
    end
  end
  redis.call('PUBLISH', p .. 'events', cjson.encode({rev = rev, changes = changes}))
end
for _, step in ipairs(plan) do
  reply[#reply + 1] = step[1]
  reply[#reply + 1] = tostring(step[2])
end
return reply
