-- Membership: register or refresh one worker (mode "beat"), remove it (mode "leave"), or only
-- read (mode "read"); prune every member silent for longer than ARGV[5] ms; return the view.
-- ARGV: prefix, swarmlet, worker id, record JSON, dead-after ms, mode.
-- Returns {now_ms, swarmlet, epoch, {id, json, beat_ms, ...}, swarmlet, ...}.
local p, s, id, rec, dead, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local set = p .. 'swarmlets'
if mode == 'beat' then
  redis.call('SADD', set, s)
  local wk = p .. 'workers:' .. s
  if redis.call('HSET', wk, id, rec) == 1 then
    redis.call('INCR', p .. 'epoch:' .. s)
  end
  redis.call('HSET', p .. 'beats:' .. s, id, now)
elseif mode == 'leave' then
  if redis.call('HDEL', p .. 'workers:' .. s, id) == 1 then
    redis.call('INCR', p .. 'epoch:' .. s)
  end
  redis.call('HDEL', p .. 'beats:' .. s, id)
end
local out = {now}
for _, sw in ipairs(redis.call('SMEMBERS', set)) do
  local wk, bk, ek = p .. 'workers:' .. sw, p .. 'beats:' .. sw, p .. 'epoch:' .. sw
  local recs = redis.call('HGETALL', wk)
  local live = {}
  local pruned = false
  for i = 1, #recs, 2 do
    local beat = tonumber(redis.call('HGET', bk, recs[i]) or '0')
    if now - beat > dead then
      redis.call('HDEL', wk, recs[i])
      redis.call('HDEL', bk, recs[i])
      pruned = true
    else
      table.insert(live, recs[i]); table.insert(live, recs[i + 1]); table.insert(live, tostring(beat))
    end
  end
  if pruned then redis.call('INCR', ek) end
  table.insert(out, sw)
  table.insert(out, redis.call('GET', ek) or '0')
  table.insert(out, live)
end
return out
