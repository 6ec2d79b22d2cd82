-- Migration 0 -> 1 (see ../redis_keys.rs): an empty namespace gets the v1 layout, which is
-- just the schema key (an absent revision reads as 0).
-- ARGV[1] = prefix, ARGV[2] = from ("0"), ARGV[3] = to ("1").
-- Returns the schema version the namespace is at afterwards.
local p = ARGV[1]
local schema = redis.call('GET', p .. 'schema')
if schema then
  -- Another process migrated first: report what is there, the caller plans again.
  return schema
end
if redis.call('EXISTS', p .. 'revision') == 1 then
  return redis.error_reply('NEXUS_SCHEMA unmarked')
end
redis.call('SET', p .. 'schema', ARGV[3])
return ARGV[3]
