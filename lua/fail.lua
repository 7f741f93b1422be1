-- fail: a leased job failed. Record the error, then retry it (now or after a
-- backoff) or move it to the dead-letter queue. The worker decides which from
-- the job's attempts and backoff; this script applies it if the lease is still held.
--
-- KEYS[1] leased    zset
-- KEYS[2] runs      hash
-- KEYS[3] errors    hash
-- KEYS[4] ready     list
-- KEYS[5] delayed   zset
-- KEYS[6] dead      zset
-- KEYS[7] wake      list
--
-- ARGV[1] id          string
-- ARGV[2] token       string  fencing token of the lease ("<attempt>:<fence>")
-- ARGV[3] dead        int     1 = dead-letter, 0 = retry
-- ARGV[4] delay_ms    int     retry after this long (0 = at once, to the back of ready)
-- ARGV[5] error       bytes   msgpack map {name, message, stack, attempt}
-- ARGV[6] max_errors  int     error history kept per job
--
-- Returns OK, or LEASE_LOST when the token is stale (the lease expired and
-- was reclaimed, or the job was removed): nothing changed.
--!include codes
--!include now
--!include wake
--!include errors
--!include runs

local id, token = ARGV[1], ARGV[2]
if redis.call('HGET', K.runs, id) ~= token then return CODE.LEASE_LOST end
redis.call('ZREM', K.leased, id)
redis.call('HSET', K.runs, id, run_attempts(token))

local now = now_ms()
push_error(K.errors, id, ARGV[5], tonumber(ARGV[6]), now)
if ARGV[3] == '1' then
  redis.call('ZADD', K.dead, now, id)
else
  local delay = tonumber(ARGV[4])
  if delay > 0 then
    redis.call('ZADD', K.delayed, now + delay, id)
  else
    redis.call('RPUSH', K.ready, id)
  end
  wake(K.wake)
end
return CODE.OK
