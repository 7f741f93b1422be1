-- schedule-fire: fire a schedule's due occurrences: make one job per
-- occurrence and advance the schedule to its next occurrence, only if the
-- schedule is still as the caller read it (same revision, not paused, the
-- same pending occurrence). Any number of workers and schedulers may race
-- to fire one occurrence: the first call advances the schedule, every other
-- gets STALE and writes nothing. The job ids are derived from the schedule id
-- and the occurrence time, so even a job made twice would be one job.
--
-- KEYS[1]  schedule_state  hash
-- KEYS[2]  schedule_next   zset
-- KEYS[3]  jobs            hash  (KEYS 3-21: as in enqueue.lua, the jobs are added the same way)
-- KEYS[4]  ready           list
-- KEYS[5]  prio            zset
-- KEYS[6]  priorities      hash
-- KEYS[7]  delayed         zset
-- KEYS[8]  meta            hash
-- KEYS[9]  ids             string
-- KEYS[10] wake            list
-- KEYS[11] dedup           hash
-- KEYS[12] dedup_exp       zset
-- KEYS[13] events          stream  `added` per job made
-- KEYS[14] metrics         hash   counters of events by kind (includes/events.lua)
-- KEYS[15] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[16] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[17] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[18] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[19] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[20] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[21] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] id        string  the schedule's id
-- ARGV[2] rev       int     the revision the caller read
-- ARGV[3] expected  int     the pending occurrence the caller read, ms
-- ARGV[4] next_ms   int     the occurrence after the ones fired, ms (0 = none: the schedule ends)
-- ARGV[5] skipped   int     occurrences the missed-run policy passes over
-- ARGV[6] limit     int     occurrences to fire in all (0 = no limit)
-- ARGV[7..] jobs  {id: string, occurrence: int, opts: string, record: bytes}  one per occurrence to fire, oldest first; opts as in enqueue.lua
--
-- Reply: fire
-- Returns {code, id1, code1, ...}: STALE (nothing written), or OK and per
-- occurrence what its job became, as enqueue reports it (OK; DUPLICATE: the
-- job exists already; DEDUPLICATED: its dedup key is held, the holder's id;
-- QUEUE_FULL: refused by backpressure, counted in the state's `refused`).
-- Occurrences past the limit make no job and are not in the reply.
--!include codes
--!include now
--!include add
--!include schedule

local st = schedule_get(K.schedule_state, A.id)
if not st or st.rev ~= A.rev or st.paused == 1 then return { CODE.STALE } end
local pending = redis.call('ZSCORE', K.schedule_next, A.id)
if not pending or tonumber(pending) ~= A.expected then return { CODE.STALE } end

local n = A.jobs_n
if A.limit > 0 then n = math.min(n, math.max(0, A.limit - st.count)) end
local occ = {}
local res = add_jobs({ jobs = K.jobs, ready = K.ready, prio = K.prio, priorities = K.priorities, delayed = K.delayed,
  meta = K.meta, ids = K.ids, wake = K.wake, dedup = K.dedup, dedup_exp = K.dedup_exp, events = K.events, metrics = K.metrics,
  group_of = K.group_of, group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait,
  group_idle = K.group_idle, groups = K.groups, group_conf = K.group_conf },
  n, function(i)
    local id, at, opts, rec = jobs(i)
    occ[i] = at
    return id, false, 0, opts, rec
  end, false, 0)
for i = 1, n do
  local id, code = res[2 * i - 1], res[2 * i]
  st.last_occ = occ[i]
  if code == CODE.QUEUE_FULL then st.refused = st.refused + 1 else
    st.count = st.count + 1
    st.last_job = id
  end
end
st.skipped = st.skipped + A.skipped
st.fired_at = now_ms(false)
local next_at = A.next_ms
if A.limit > 0 and st.count >= A.limit then next_at = 0 end
if next_at > 0 then
  redis.call('ZADD', K.schedule_next, next_at, A.id)
else
  redis.call('ZREM', K.schedule_next, A.id)
  st.ended = 1
end
schedule_put(K.schedule_state, A.id, st)
table.insert(res, 1, CODE.OK)
return res
