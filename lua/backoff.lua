-- backoff: a handler asked the queue to back off (say, an HTTP 429 from the
-- service its jobs call). Its job goes back without using an attempt, ahead
-- of the others (of its group), and no job starts for delay_ms: none of the
-- queue's (scope 0, on every worker: meta's hold_until, read by every lease),
-- or none of the job's group (scope 1: the group's rate state is pushed; a
-- job without a group just waits delay_ms itself). A back-off only ever
-- lengthens a hold already in place.
--
-- KEYS[1]  leased      zset
-- KEYS[2]  runs        hash
-- KEYS[3]  ready       list
-- KEYS[4]  prio        zset
-- KEYS[5]  priorities  hash
-- KEYS[6]  meta        hash   state and policy: hold_until, limited_until
-- KEYS[7]  delayed     zset
-- KEYS[8]  wake        list
-- KEYS[9]  events      stream `backed-off`
-- KEYS[10] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[11] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[12] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[13] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[14] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[15] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[16] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[17] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] id        string
-- ARGV[2] token     string  fencing token of the lease
-- ARGV[3] delay_ms  int     how long nothing starts (1 ms to about 11.5 days)
-- ARGV[4] scope     int     0 the queue, 1 the job's group
--
-- Reply: code
-- Returns OK; LEASE_LOST when the token is stale; CANCELLED when the job was
-- cancelled while it ran (it stays cancelled). Nothing changes but on OK.
--!include codes
--!include now
--!include policy
--!include ready
--!include wake
--!include events

local current = redis.call('HGET', K.runs, A.id)
if current == A.token .. ':cancelled' then return CODE.CANCELLED end
if current ~= A.token then return CODE.LEASE_LOST end
local now = now_ms(true)
local pol = read_policy(K.meta)
local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, pol, now)
local until_ms = math.floor(now) + A.delay_ms
redis.call('ZREM', K.leased, A.id)
local made = run_attempts(A.token) - 1
-- between runs: the attempts made, and when it may run again (the wait-time histogram starts there)
redis.call('HSET', K.runs, A.id, made .. '@' .. string.format('%d', until_ms))
ready_stopped(rq, { A.id }, 'back')
if A.scope == 0 then
  ready_push_front(rq, { A.id })
  if until_ms > pol.hold_until then redis.call('HSET', K.meta, 'hold_until', until_ms, 'limited_until', until_ms) end
elseif not ready_hold_group(rq, A.id, until_ms) then
  redis.call('ZADD', K.delayed, until_ms, A.id)
end
local ev = events_new(K.events, pol.events_max, K.metrics)
event(ev, 'backed-off', A.id, made)
events_flush(ev)
wake(K.wake)
return CODE.OK
