-- replay: move dead-lettered jobs back to ready with their attempts reset (and
-- their error history and progress cleared), at their priority, for an operator once the
-- cause is fixed.
--
-- KEYS[1] dead        zset
-- KEYS[2] runs        hash
-- KEYS[3] errors      hash
-- KEYS[4] ready       list
-- KEYS[5] prio        zset
-- KEYS[6] priorities  hash
-- KEYS[7] meta        hash
-- KEYS[8] wake        list
-- KEYS[9] jobs        hash
-- KEYS[10] events     stream `replayed`
-- KEYS[11] progress   hash   a replayed job starts with no progress, as with no errors
-- KEYS[12] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[13] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[14] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[15] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[16] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[17] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[18] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[19] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1..] ids  {id: string, died: string}  at most ~1000 per call (the client pages); `died`:
--                the time of death the caller saw (a `dead` score), '' for whichever
--
-- Reply: codes
-- Returns {code1, ...}: OK, STALE (dead, but not in the death given: replayed
-- and dead again since; left as it is), NOT_DEAD (exists but not dead) or NOT_FOUND.
--!include codes
--!include policy
--!include dead

local codes, back = {}, {}
local pol = read_policy(K.meta)
local ev = events_new(K.events, pol.events_max, K.metrics)
for i = 1, A.ids_n do
  local id, died = ids(i)
  codes[i] = dead_take(K.dead, K.jobs, id, died)
  if codes[i] == CODE.OK then back[#back + 1] = id end
end
dead_replay({ runs = K.runs, errors = K.errors, progress = K.progress, ready = K.ready, prio = K.prio,
  priorities = K.priorities, meta = K.meta, wake = K.wake,
  group_of = K.group_of, group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait,
  group_idle = K.group_idle, groups = K.groups, group_conf = K.group_conf }, back, ev, pol)
events_flush(ev)
return codes
