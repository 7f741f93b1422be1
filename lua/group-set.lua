-- group-set: set one group's own limits (or clear them: the policy's
-- defaults apply again), and put the group where its limits now say: a
-- group whose concurrency was raised may start a job at once.
--
-- KEYS[1] meta        hash   the policy: the defaults for groups
-- KEYS[2] ready       list   (ready_keys)
-- KEYS[3] prio        zset
-- KEYS[4] priorities  hash
-- KEYS[5] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[6] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[7] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[8] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[9] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[10] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[11] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
-- KEYS[12] wake        list   a group that may start a job now wakes one idle worker
--
-- ARGV[1] group  string  the group key (validated by the client)
-- ARGV[2] conf   string  "<concurrency>,<rate max>,<rate ms>,<weight>" (-1 = the default), '' = clear
--
-- Reply: code
-- Returns OK.
--!include codes
--!include now
--!include policy
--!include ready
--!include wake

if A.conf == '' then redis.call('HDEL', K.group_conf, A.group) else redis.call('HSET', K.group_conf, A.group, A.conf) end
local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, read_policy(K.meta), now_ms(true))
if ready_group_changed(rq, A.group) then wake(K.wake) end
return CODE.OK
