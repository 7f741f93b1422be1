-- fail: a leased job failed. Record the error, then retry it (now or after a
-- backoff) or move it to the dead-letter queue. The worker decides which from
-- the job's attempts and backoff; this script applies it if the lease is still held.
-- A grouped job's group waits for its retry (policy group_order strict, the
-- default) or goes on during the backoff (relaxed); a dead one frees its group.
--
-- KEYS[1]  leased      zset
-- KEYS[2]  runs        hash
-- KEYS[3]  errors      hash
-- KEYS[4]  ready       list
-- KEYS[5]  prio        zset
-- KEYS[6]  priorities  hash
-- KEYS[7]  delayed     zset
-- KEYS[8]  dead        zset
-- KEYS[9]  meta        hash   policy: max_errors, aging_ms
-- KEYS[10] wake        list
-- KEYS[11] dedup       hash   a dead job frees its until-complete dedup key
-- KEYS[12] dedup_exp   zset
-- KEYS[13] events      stream `failed`, then `retried` or `dead`
-- KEYS[14] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[15] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[16] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[17] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[18] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[19] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[20] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[21] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] id        string
-- ARGV[2] token     string  fencing token of the lease
-- ARGV[3] dead      bool    1 = dead-letter, 0 = retry
-- ARGV[4] delay_ms  int     retry after this long (0 = at once, to the back of its priority)
-- ARGV[5] error     bytes   msgpack map {name, message, stack, attempt}
-- ARGV[6] dedup     string  the job's until-complete dedup key ('' = none)
--
-- Reply: code
-- Returns OK; LEASE_LOST when the token is stale (the lease expired and was
-- reclaimed, or the job was removed); CANCELLED when the job was cancelled
-- while it ran (it stays cancelled, not retried). Nothing changes but on OK.
--!include codes
--!include now
--!include policy
--!include ready
--!include wake
--!include errors
--!include dedup
--!include events

local current = redis.call('HGET', K.runs, A.id)
if current == A.token .. ':cancelled' then return CODE.CANCELLED end
if current ~= A.token then return CODE.LEASE_LOST end
redis.call('ZREM', K.leased, A.id)
local pol = read_policy(K.meta)
local now = now_ms()
local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, pol, now)
-- between runs: the attempts made, and when a retry may run (for the wait-time histogram)
redis.call('HSET', K.runs, A.id, run_attempts(A.token) .. '@' .. string.format('%d', now + (A.dead and 0 or A.delay_ms)))
push_error(K.errors, A.id, A.error, pol.max_errors, now)
local ev = events_new(K.events, pol.events_max, K.metrics)
local attempt = run_attempts(A.token)
event(ev, 'failed', A.id, attempt)
if A.dead then
  redis.call('ZADD', K.dead, now, A.id)
  event(ev, 'dead', A.id, attempt)
  dedup_release({ dedup = K.dedup, dedup_exp = K.dedup_exp }, A.dedup, A.id)
  -- its group, or under max_running a slot of the queue, may let another job start
  if ready_stopped(rq, { A.id }, 'end') or (pol.max_running > 0 and ready_more(rq)) then wake(K.wake) end
else
  event(ev, 'retried', A.id, attempt)
  ready_stopped(rq, { A.id }, 'retry')
  if A.delay_ms > 0 then
    redis.call('ZADD', K.delayed, now + A.delay_ms, A.id)
  else
    ready_push(rq, { A.id }, nil, nil)
  end
  wake(K.wake)
end
events_flush(ev)
return CODE.OK
