-- Leaves one token in the wake list so that one idle worker (blocked in BLPOP)
-- wakes up. At most one token is kept: a woken worker that leaves jobs behind
-- passes the token on (see lease.lua), so one token is enough for any fleet.
local function wake(wake_key)
  if redis.call('LLEN', wake_key) == 0 then
    redis.call('RPUSH', wake_key, '1')
  end
end
