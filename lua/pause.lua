-- pause: stop or restart leasing for the whole queue. Adds still work while
-- paused; leased jobs run to completion.
--
-- KEYS[1] meta  hash
-- KEYS[2] wake  list
--
-- ARGV[1] paused  bool  1 = pause, 0 = resume
--
-- Reply: code
-- Returns OK. Resuming wakes one idle worker, which passes the wake-up on
-- while jobs are left (includes/lease.lua).
--!include codes
--!include wake

if A.paused then
  redis.call('HSET', K.meta, 'paused', '1')
else
  redis.call('HDEL', K.meta, 'paused')
  wake(K.wake)
end
return CODE.OK
