-- release: give leased jobs back without running them (worker shutdown). They
-- go to the front of ready for another worker, and the lease does not count
-- as an attempt.
--
-- KEYS[1] leased    zset
-- KEYS[2] lease     hash
-- KEYS[3] attempts  hash
-- KEYS[4] ready     list
-- KEYS[5] wake      list
--
-- ARGV[1] count  int   number of leases m
-- then m pairs: id, token
--
-- Returns {code1, ..., codem}: OK, or LEASE_LOST (stale token: nothing changed).
--!include codes
--!include wake

local m = tonumber(ARGV[1])
local codes = {}
local back = {}
for i = 1, m do
  local id, token = ARGV[i * 2], ARGV[i * 2 + 1]
  if redis.call('HGET', K.lease, id) ~= token then
    codes[i] = CODE.LEASE_LOST
  else
    redis.call('ZREM', K.leased, id)
    redis.call('HDEL', K.lease, id)
    codes[i] = CODE.OK
    if redis.call('HINCRBY', K.attempts, id, -1) <= 0 then redis.call('HDEL', K.attempts, id) end
    back[#back + 1] = id
  end
end
if #back > 0 then
  -- LPUSH reverses; push the last first so the batch keeps its order at the front
  for i = #back, 1, -1 do redis.call('LPUSH', K.ready, back[i]) end
  wake(K.wake)
end
return codes
