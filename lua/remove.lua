-- remove: delete one job in any state, at the user's explicit request. A
-- worker that holds it loses its lease (its ack will be refused). A grouped
-- job frees its group.
--
-- KEYS[1]  jobs        hash
-- KEYS[2]  ready       list
-- KEYS[3]  prio        zset
-- KEYS[4]  priorities  hash
-- KEYS[5]  meta        hash
-- KEYS[6]  delayed     zset
-- KEYS[7]  leased      zset
-- KEYS[8]  runs        hash
-- KEYS[9]  errors      hash
-- KEYS[10] dead        zset
-- KEYS[11] done        zset
-- KEYS[12] cancelled   zset
-- KEYS[13] results     hash
-- KEYS[14] dedup       hash
-- KEYS[15] dedup_exp   zset
-- KEYS[16] events      stream `removed`
-- KEYS[17] progress    hash
-- KEYS[18] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[19] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[20] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[21] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[22] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[23] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[24] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[25] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
-- KEYS[26] wake        list   a group the job frees may start a job: one idle worker wakes
--
-- ARGV[1] id  string
--
-- Reply: code
-- Returns OK or NOT_FOUND.
--!include codes
--!include now
--!include wake
--!include ready
--!include record
--!include dedup
--!include policy
--!include events

local id = A.id
local raw = redis.call('HGET', K.jobs, id)
if not raw then return CODE.NOT_FOUND end
local h = record_header(raw)
local made = run_attempts(redis.call('HGET', K.runs, id))
if h and h[REC.DEDUP_KEY] then dedup_release({ dedup = K.dedup, dedup_exp = K.dedup_exp }, h[REC.DEDUP_KEY], id) end
redis.call('HDEL', K.jobs, id)
local pol = read_policy(K.meta)
local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, pol, now_ms(true))
local woke = false
if redis.call('ZREM', K.leased, id) == 1 then
  woke = ready_stopped(rq, { id }, 'end') or (pol.max_running > 0 and ready_more(rq))
else
  ready_remove(rq, id)
end
if ready_forget(rq, { id }) then woke = true end
if woke then wake(K.wake) end
redis.call('ZREM', K.delayed, id)
redis.call('ZREM', K.dead, id)
redis.call('ZREM', K.done, id)
redis.call('ZREM', K.cancelled, id)
redis.call('HDEL', K.runs, id)
redis.call('HDEL', K.errors, id)
redis.call('HDEL', K.results, id)
redis.call('HDEL', K.progress, id)
local ev = events_new(K.events, pol.events_max, K.metrics)
event(ev, 'removed', id, made)
events_flush(ev)
return CODE.OK
