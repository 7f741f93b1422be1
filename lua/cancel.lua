-- cancel: a job will not run (again). A waiting or delayed job leaves its
-- queue at once; a running job's lease is ended so that its worker's ack,
-- fail and heartbeat all see CANCELLED (the heartbeat aborts its handler's
-- signal). Either way the job ends as cancelled: not retried, not
-- dead-lettered, kept for getJob up to the policy's keep_cancelled. A grouped
-- job frees its group: the group's next job may start.
--
-- KEYS[1]  jobs        hash
-- KEYS[2]  ready       list
-- KEYS[3]  prio        zset
-- KEYS[4]  priorities  hash
-- KEYS[5]  delayed     zset
-- KEYS[6]  leased      zset
-- KEYS[7]  runs        hash
-- KEYS[8]  errors      hash
-- KEYS[9]  cancelled   zset   cancelled jobs, scored by time of cancelling ms
-- KEYS[10] meta        hash   policy: keep_cancelled
-- KEYS[11] dedup       hash   a cancelled job frees its dedup key
-- KEYS[12] dedup_exp   zset
-- KEYS[13] events      stream `cancelled`
-- KEYS[14] progress    hash   progress reports, deleted with the job
-- KEYS[15] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[16] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[17] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[18] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[19] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[20] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[21] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[22] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
-- KEYS[23] wake        list   a group the job frees may start a job: one idle worker wakes
--
-- ARGV[1] id  string
--
-- Reply: code
-- Returns OK (it was waiting or delayed), RUNNING (it was running: its worker
-- is told at its next heartbeat), DONE_ALREADY (it had completed, died or been
-- cancelled: nothing changed) or NOT_FOUND.
--!include codes
--!include now
--!include policy
--!include ready
--!include wake
--!include record
--!include dedup
--!include events

local id = A.id
local raw = redis.call('HGET', K.jobs, id)
if not raw then return CODE.NOT_FOUND end
local now = now_ms()
local pol = read_policy(K.meta)
local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, pol, now)
local code
local run = redis.call('HGET', K.runs, id)
if redis.call('ZREM', K.leased, id) == 1 then
  redis.call('HSET', K.runs, id, (run or '0') .. ':cancelled')
  if ready_stopped(rq, { id }, 'end') or (pol.max_running > 0 and ready_more(rq)) then wake(K.wake) end
  code = CODE.RUNNING
elseif redis.call('ZREM', K.delayed, id) == 1 or ready_remove(rq, id) then
  code = CODE.OK
else
  return CODE.DONE_ALREADY
end
-- its group goes on without it (one held for its retry gives the slot back)
if ready_forget(rq, { id }) then wake(K.wake) end
redis.call('ZADD', K.cancelled, now, id)
local ev = events_new(K.events, pol.events_max, K.metrics)
event(ev, 'cancelled', id, run_attempts(run))
events_flush(ev)
local h = record_header(raw)
if h and h[REC.DEDUP_KEY] then dedup_release({ dedup = K.dedup, dedup_exp = K.dedup_exp }, h[REC.DEDUP_KEY], id) end
-- retention: the oldest cancelled jobs past keep_cancelled are deleted
local over = redis.call('ZCARD', K.cancelled) - pol.keep_cancelled
if over > 0 then
  local old = redis.call('ZPOPMIN', K.cancelled, math.min(over, 1000))
  local drop = {}
  for j = 1, #old, 2 do drop[#drop + 1] = old[j] end
  redis.call('HDEL', K.jobs, unpack(drop))
  redis.call('HDEL', K.runs, unpack(drop))
  redis.call('HDEL', K.errors, unpack(drop))
  redis.call('HDEL', K.progress, unpack(drop))
  ready_forget(rq, drop)
end
return code
