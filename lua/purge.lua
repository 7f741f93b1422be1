-- purge: delete dead-lettered jobs for good (an operator's explicit removal).
--
-- KEYS[1] dead        zset
-- KEYS[2] jobs        hash
-- KEYS[3] runs        hash
-- KEYS[4] errors      hash
-- KEYS[5] priorities  hash
-- KEYS[6] progress    hash
-- KEYS[7] meta        hash   the policy (ready_keys)
-- KEYS[8] ready       list   (ready_keys: a purged job's priority and group are forgotten)
-- KEYS[9] prio        zset
-- KEYS[10] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[11] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[12] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[13] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[14] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[15] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[16] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1..] ids  {id: string, died: string}  at most ~1000 per call (the client pages); `died`:
--                the time of death the caller saw (a `dead` score), '' for whichever
--
-- Reply: codes
-- Returns {code1, ...}: OK, STALE (dead, but not in the death given: replayed
-- and dead again since; left as it is), NOT_DEAD (exists but not dead) or NOT_FOUND.
--!include codes
--!include policy
--!include ready
--!include dead

local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, read_policy(K.meta), now_ms(true))

local codes = {}
for i = 1, A.ids_n do
  local id, died = ids(i)
  codes[i] = dead_take(K.dead, K.jobs, id, died)
  if codes[i] == CODE.OK then
    redis.call('HDEL', K.jobs, id)
    redis.call('HDEL', K.runs, id)
    redis.call('HDEL', K.errors, id)
    redis.call('HDEL', K.progress, id)
    ready_forget(rq, { id })
  end
end
return codes
