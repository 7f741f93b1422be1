-- run-now: delayed jobs (a delay, or a retry's backoff) become ready at once,
-- at an operator's request: "promote" and "retry now" in the dashboard. Each
-- joins the back of its priority (a grouped one its place in its group), as
-- when its run-at comes; its `runs` value becomes "<attempts>@<now>", so its
-- wait is counted from now. Its attempts are not reset (that is replay, for
-- dead jobs).
--
-- KEYS[1]  delayed     zset
-- KEYS[2]  runs        hash
-- KEYS[3]  ready       list
-- KEYS[4]  prio        zset
-- KEYS[5]  priorities  hash
-- KEYS[6]  meta        hash   policy
-- KEYS[7]  jobs        hash   tells a job that is not delayed from no job
-- KEYS[8]  wake        list   idle workers wake for the jobs made ready
-- KEYS[9]  group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[10] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[11] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[12] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[13] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[14] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[15] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1..] ids  {id: string}  at most ~1000 per call (the client pages)
--
-- Reply: codes
-- Returns {code1, ...}: OK (it was delayed and is ready now), NOT_DELAYED
-- (it exists but waits for no run-at: ready, running or ended) or NOT_FOUND.
--!include codes
--!include now
--!include policy
--!include ready
--!include runs
--!include wake

local now = now_ms()
local pol = read_policy(K.meta)
local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, pol, now)
local codes, moved = {}, {}
for i = 1, A.ids_n do
  local id = ids(i)
  if redis.call('ZREM', K.delayed, id) == 1 then
    codes[i] = CODE.OK
    moved[#moved + 1] = id
  elseif redis.call('HEXISTS', K.jobs, id) == 1 then
    codes[i] = CODE.NOT_DELAYED
  else
    codes[i] = CODE.NOT_FOUND
  end
end
if #moved > 0 then
  local made = redis.call('HMGET', K.runs, unpack(moved))
  local rargs = {}
  for i, id in ipairs(moved) do
    rargs[#rargs + 1] = id
    rargs[#rargs + 1] = run_attempts(made[i]) .. '@' .. string.format('%d', now)
  end
  redis.call('HSET', K.runs, unpack(rargs))
  if ready_push(rq, moved, nil, nil) then wake(K.wake) end
end
return codes
