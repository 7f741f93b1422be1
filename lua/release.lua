-- release: give leased jobs back without running them (worker shutdown). They
-- go to the front of ready for another worker, and the lease does not count
-- as an attempt.
--
-- KEYS[1] leased    zset
-- KEYS[2] runs      hash
-- KEYS[3] ready     list
-- KEYS[4] wake      list
--
-- ARGV[1] count  int   number of leases m
-- then m pairs: id, token
--
-- Returns {code1, ..., codem}: OK, or LEASE_LOST (stale token: nothing changed).
--!include codes
--!include wake
--!include runs

local m = tonumber(ARGV[1])
local codes = {}
local back = {}
for i = 1, m do
  local id, token = ARGV[i * 2], ARGV[i * 2 + 1]
  if redis.call('HGET', K.runs, id) ~= token then
    codes[i] = CODE.LEASE_LOST
  else
    redis.call('ZREM', K.leased, id)
    local made = run_attempts(token) - 1
    if made > 0 then redis.call('HSET', K.runs, id, made) else redis.call('HDEL', K.runs, id) end
    codes[i] = CODE.OK
    back[#back + 1] = id
  end
end
if #back > 0 then
  -- LPUSH reverses; push the last first so the batch keeps its order at the front
  for i = #back, 1, -1 do redis.call('LPUSH', K.ready, back[i]) end
  wake(K.wake)
end
return codes
