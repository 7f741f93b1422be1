-- release: give leased jobs back without running them: at worker shutdown to
-- the front of ready for another worker at once, or after `delay_ms` (a record
-- of a newer version, for a newer worker). The lease does not count as an
-- attempt, and the record is left as it is.
--
-- KEYS[1] leased      zset
-- KEYS[2] runs        hash
-- KEYS[3] ready       list
-- KEYS[4] prio        zset
-- KEYS[5] priorities  hash
-- KEYS[6] meta        hash
-- KEYS[7] delayed     zset
-- KEYS[8] wake        list
--
-- ARGV[1] delay_ms  int  0 = to the front of ready now; else run again after this long
-- ARGV[2..] leases  {id: string, token: string}
--
-- Reply: codes
-- Returns {code1, ..., codem}: OK, or LEASE_LOST (stale token: nothing changed).
--!include codes
--!include now
--!include ready
--!include wake

local codes, back = {}, {}
for i = 1, A.leases_n do
  local id, token = leases(i)
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
  local now = now_ms(true)
  if A.delay_ms > 0 then
    for _, id in ipairs(back) do redis.call('ZADD', K.delayed, math.floor(now) + A.delay_ms, id) end
  else
    ready_push_front(ready_keys(K.ready, K.prio, K.priorities, K.meta), back, now)
  end
  wake(K.wake)
end
return codes
