-- release: give leased jobs back without running them: at worker shutdown to
-- the front of ready for another worker at once, or after `delay_ms` (a record
-- of a newer version, for a newer worker). The lease does not count as an
-- attempt, and the record is left as it is. A grouped job goes back to its
-- place in its group (ahead of the jobs added after it).
--
-- KEYS[1] leased      zset
-- KEYS[2] runs        hash
-- KEYS[3] ready       list
-- KEYS[4] prio        zset
-- KEYS[5] priorities  hash
-- KEYS[6] meta        hash
-- KEYS[7] delayed     zset
-- KEYS[8] wake        list
-- KEYS[9]  group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[10] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[11] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[12] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[13] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[14] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[15] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] delay_ms  int  0 = to the front of ready now; else run again after this long
-- ARGV[2..] leases  {id: string, token: string}
--
-- Reply: codes
-- Returns {code1, ..., codem}: OK, or LEASE_LOST (stale token: nothing changed).
--!include codes
--!include now
--!include policy
--!include ready
--!include wake

local codes, back = {}, {}
for i = 1, A.leases_n do
  local id, token = leases(i)
  if redis.call('HGET', K.runs, id) ~= token then
    codes[i] = CODE.LEASE_LOST
  else
    redis.call('ZREM', K.leased, id)
    local made = run_attempts(token) - 1
    if made > 0 then redis.call('HSET', K.runs, id, made) else redis.call('HDEL', K.runs, id) end
    codes[i] = CODE.OK
    back[#back + 1] = id
  end
end
if #back > 0 then
  local now = now_ms(true)
  local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, read_policy(K.meta), now)
  ready_stopped(rq, back, 'back')
  if A.delay_ms > 0 then
    for _, id in ipairs(back) do redis.call('ZADD', K.delayed, math.floor(now) + A.delay_ms, id) end
  else
    ready_push_front(rq, back)
  end
  wake(K.wake)
end
return codes
