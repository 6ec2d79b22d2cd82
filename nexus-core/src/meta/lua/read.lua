-- Reads every record of the given kinds at one revision (snapshot and list).
-- ARGV[1] = prefix, ARGV[2..] = kinds.
-- Returns {schema or "", revision, then seven per record:
--          kind, name, version, revision, digest, updated_ms, body}.
local p = ARGV[1]
local reply = {redis.call('GET', p .. 'schema') or '', redis.call('GET', p .. 'revision') or '0'}
for i = 2, #ARGV do
  local kind = ARGV[i]
  for _, name in ipairs(redis.call('SMEMBERS', p .. 'idx:' .. kind)) do
    local f = redis.call('HMGET', p .. 'res:' .. kind .. ':' .. name,
      'version', 'revision', 'digest', 'updated_ms', 'body')
    if f[1] then
      reply[#reply + 1] = kind
      reply[#reply + 1] = name
      for j = 1, 5 do
        reply[#reply + 1] = f[j] or ''
      end
    end
  end
end
return reply
