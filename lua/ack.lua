-- ack: complete a batch of leased jobs and, in the same round trip, lease the
-- next batch. An ack whose fencing token is stale is refused and changes nothing.
--
-- KEYS[1]  ready       list
-- KEYS[2]  prio        zset
-- KEYS[3]  priorities  hash
-- KEYS[4]  delayed     zset
-- KEYS[5]  leased      zset
-- KEYS[6]  runs        hash
-- KEYS[7]  jobs        hash
-- KEYS[8]  errors      hash
-- KEYS[9]  dead        zset
-- KEYS[10] done        zset   completed jobs kept by the policy, scored by completion ms (µs fraction)
-- KEYS[11] results     hash   results of kept jobs
-- KEYS[12] meta        hash   state and policy (keep_count, keep_age_ms, max_errors, ...)
-- KEYS[13] wake        list
-- KEYS[14] fence       string
-- KEYS[15] dedup       hash   a completed job frees its dedup key
-- KEYS[16] dedup_exp   zset
-- KEYS[17] schedule_next zset  schedules by next occurrence (see includes/lease.lua)
-- KEYS[18] events      stream `completed` per job acked (then as lease.lua for the next batch)
-- KEYS[19] progress    hash   progress reports, deleted with the job
-- KEYS[20] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[21] workers     hash   what each worker last said of its slots (includes/workers.lua)
-- KEYS[22] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[23] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[24] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[25] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[26] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[27] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[28] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] n         int     jobs to lease after acking (0 = none)
-- ARGV[2] lease_ms  int
-- ARGV[3] rnd       float   in [0, 1), jitter for reclaimed jobs
-- ARGV[4] nonce     string  random per call, part of every new token
-- ARGV[5] worker   string  "<id>,<busy>,<slots>,<ttl ms>" (includes/workers.lua), '' for none
-- ARGV[6] dedups   string  until-complete dedup keys the acked jobs free: "id\0key\0" per job that has one ('' for none, the usual case)
-- ARGV[7] acks packed {id: string, token: string, result: bytes}  result '' for none
--
-- Reply: ack
-- Returns {{code1, ..., codem}, lease_reply}: per ack OK, LEASE_LOST (the
-- token is not the job's lease: it expired, or the job was removed),
-- CANCELLED (the job was cancelled while it ran: it stays cancelled), or
-- DONE_ALREADY (this same ack was applied before, seen for kept jobs only);
-- then the lease reply of includes/lease.lua (next_in_ms first).
--!include codes
--!include now
--!include policy
--!include promote
--!include workers
--!include reclaim
--!include lease

local pol = read_policy(K.meta)
-- kept jobs are scored to the microsecond (plus their place in the batch), so
-- that retention trims them in completion order even within one millisecond
local precise = now_ms(true)
local now = math.floor(precise)
local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, pol, precise)
local d = { dedup = K.dedup, dedup_exp = K.dedup_exp }
local keep_count, keep_age = pol.keep_count, pol.keep_age_ms
local ev = events_new(K.events, pol.events_max, K.metrics)
local m = A.acks_n
local codes, ids = {}, {}
for i = 1, m do ids[i] = acks(i) end
local dedup_of = {}
if A.dedups ~= '' then
  for id, key in string.gmatch(A.dedups, '([^%z]+)%z([^%z]+)%z') do dedup_of[id] = key end
end

local freed = false -- a group may start a job, or waits for its limit, because an ack freed its slot
if m > 0 then
  local tokens = redis.call('HMGET', K.runs, unpack(ids))
  -- counted by hand, not with `#t` (a search in Lua 5.1): this loop runs per job
  local acked, done, results, kept_runs, a, r = {}, {}, {}, {}, 0, 0
  for i = 1, m do
    local id, token, result = acks(i)
    if tokens[i] == token then
      codes[i] = CODE.OK
      a = a + 1
      acked[a] = id
      event(ev, 'completed', id, run_attempts_text(token))
      if dedup_of[id] then dedup_release(d, dedup_of[id], id) end
      if keep_count > 0 then
        done[2 * a - 1] = score(precise + (2 * a - 2) * 0.0005); done[2 * a] = id
        -- "<token>:done" keeps the attempts readable and marks which lease completed it
        kept_runs[2 * a - 1] = id; kept_runs[2 * a] = token .. ':done'
        if result ~= '' then results[r + 1] = id; results[r + 2] = result; r = r + 2 end
      end
    elseif tokens[i] == token .. ':done' then
      codes[i] = CODE.DONE_ALREADY -- this very ack was applied before (a client resent it after a reconnect)
    elseif tokens[i] == token .. ':cancelled' then
      codes[i] = CODE.CANCELLED
    else
      codes[i] = CODE.LEASE_LOST
    end
  end
  if a > 0 then
    redis.call('ZREM', K.leased, unpack(acked))
    local gvals
    freed, gvals = ready_stopped(rq, acked, 'end')
    if keep_count > 0 then
      redis.call('HSET', K.runs, unpack(kept_runs))
      redis.call('ZADD', K.done, unpack(done))
      if r > 0 then redis.call('HSET', K.results, unpack(results)) end
    else
      redis.call('HDEL', K.jobs, unpack(acked))
      redis.call('HDEL', K.runs, unpack(acked))
      -- most jobs never failed: skip the error cleanup when no job has errors
      if redis.call('HLEN', K.errors) > 0 then redis.call('HDEL', K.errors, unpack(acked)) end
      if redis.call('HLEN', K.progress) > 0 then redis.call('HDEL', K.progress, unpack(acked)) end
      ready_forget(rq, acked, gvals)
    end
  end
  if keep_count > 0 or redis.call('ZCARD', K.done) > 0 then
    -- retention: drop the oldest past keep_count, and those older than keep_age
    local drop = {}
    local over = redis.call('ZCARD', K.done) - keep_count
    if over > 0 then
      local old = redis.call('ZPOPMIN', K.done, math.min(over, 1000))
      for j = 1, #old, 2 do drop[#drop + 1] = old[j] end
    end
    if keep_age > 0 then
      local aged = redis.call('ZRANGEBYSCORE', K.done, '-inf', now - keep_age, 'LIMIT', 0, 1000)
      if #aged > 0 then
        redis.call('ZREM', K.done, unpack(aged))
        for _, id in ipairs(aged) do drop[#drop + 1] = id end
      end
    end
    if #drop > 0 then
      redis.call('HDEL', K.jobs, unpack(drop))
      redis.call('HDEL', K.results, unpack(drop))
      redis.call('HDEL', K.runs, unpack(drop))
      redis.call('HDEL', K.errors, unpack(drop))
      redis.call('HDEL', K.progress, unpack(drop))
      ready_forget(rq, drop)
    end
  end
end

if A.n > 0 then promote(K.delayed, K.runs, rq) end
reclaim({ leased = K.leased, runs = K.runs, jobs = K.jobs, errors = K.errors, dead = K.dead, delayed = K.delayed },
  rq, d, ev, A.rnd)
-- a worker that acks held leases already: no announcement (it would wake idle workers per job)
local out = lease_batch({ leased = K.leased, runs = K.runs, jobs = K.jobs, delayed = K.delayed, wake = K.wake, fence = K.fence, schedule_next = K.schedule_next },
  rq, ev, A.n, A.lease_ms, false, A.nonce)
-- a worker that takes nothing now (it is closing, or its lease waits behind a BLPOP) passes freed
-- slots on; a group that waits for its limit from now on needs a worker to arm its due timer too.
-- While the queue's own limits hold jobs back, no one need wake (as for an add): the worker whose
-- lease was held back has a timer for it
if A.n == 0 and m > 0 and (freed or ready_more(rq)) and pol.limited_until <= precise then wake(K.wake) end
events_flush(ev)
worker_seen(K.workers, A.worker, now)
return { codes, out }
