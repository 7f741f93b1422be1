-- lease: promote due delayed jobs, reclaim expired leases, and lease up to N
-- ready jobs to the calling worker with a fresh fencing token each, within
-- the queue's limits (back-off, most running, rate) and its groups' turns,
-- slots and rates (includes/ready.lua).
--
-- KEYS[1]  ready       list   jobs without a priority, oldest first
-- KEYS[2]  prio        zset   jobs with a priority (includes/ready.lua)
-- KEYS[3]  priorities  hash   job id -> priority
-- KEYS[4]  delayed     zset   scored by run-at ms
-- KEYS[5]  leased      zset   scored by lease deadline ms
-- KEYS[6]  runs        hash   job id -> "<attempts>" or the lease's token
-- KEYS[7]  jobs        hash   job id -> record
-- KEYS[8]  errors      hash   job id -> error history
-- KEYS[9]  dead        zset
-- KEYS[10] meta        hash   state and policy: `paused` stops leasing; limits (includes/ready.lua)
-- KEYS[11] wake        list
-- KEYS[12] fence       string fencing token counter
-- KEYS[13] dedup       hash   dedup key -> job id (a dead job frees its key)
-- KEYS[14] dedup_exp   zset
-- KEYS[15] schedule_next zset  schedules by next occurrence (the reply says when the next one comes)
-- KEYS[16] events      stream `started` per job leased; reclaimed ones: lease-expired, retried or dead
-- KEYS[17] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[18] workers     hash   what each worker last said of its slots (includes/workers.lua)
-- KEYS[19] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[20] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[21] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[22] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[23] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[24] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[25] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] n         int     jobs wanted (free slots); 0 only promotes and reclaims
-- ARGV[2] lease_ms  int     lease duration
-- ARGV[3] rnd       float   random number in [0, 1) for backoff jitter of reclaimed jobs
-- ARGV[4] nonce     string  random per call, part of every token (unique after a failover)
-- ARGV[5] worker    string  "<id>,<busy>,<slots>,<ttl ms>" (includes/workers.lua), '' for none
--
-- Reply: lease
-- Returns {next_in_ms, keep_results, schedule_in_ms, id, token, attempt, record, ...} (see includes/lease.lua).
-- A lease is an attempt: `attempt` is 1 on the first run.
--!include now
--!include policy
--!include promote
--!include workers
--!include reclaim
--!include lease

local now = now_ms(true)
local pol = read_policy(K.meta)
local rq = ready_keys({ ready = K.ready, prio = K.prio, priorities = K.priorities, meta = K.meta, group_of = K.group_of,
  group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait, group_idle = K.group_idle,
  groups = K.groups, group_conf = K.group_conf }, pol, now)
local ev = events_new(K.events, pol.events_max, K.metrics)
promote(K.delayed, K.runs, rq)
reclaim({ leased = K.leased, runs = K.runs, jobs = K.jobs, errors = K.errors, dead = K.dead, delayed = K.delayed },
  rq, { dedup = K.dedup, dedup_exp = K.dedup_exp }, ev, A.rnd)
-- a worker coming out of idle may be the first to hold a lease: announce it
local out = lease_batch({ leased = K.leased, runs = K.runs, jobs = K.jobs, delayed = K.delayed, wake = K.wake, fence = K.fence, schedule_next = K.schedule_next },
  rq, ev, A.n, A.lease_ms, true, A.nonce)
events_flush(ev)
worker_seen(K.workers, A.worker, math.floor(now))
return out
