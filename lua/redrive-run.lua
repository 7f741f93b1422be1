-- redrive-run: replay the next jobs of the queue's redrive task, oldest death
-- first, taking them out of the task in this same call: however the task is
-- interrupted and resumed, it offers each job to replay once, so a job it
-- replayed that died again is not replayed again by it. A job no longer dead
-- in the death the task matched (replayed, purged or removed by someone else,
-- or dead again since) is skipped. The last call marks the task done.
--
-- KEYS[1] redrive      hash
-- KEYS[2] redrive_ids  zset
-- KEYS[3] dead         zset
-- KEYS[4] jobs         hash
-- KEYS[5] runs         hash
-- KEYS[6] errors       hash
-- KEYS[7] progress     hash
-- KEYS[8] ready        list
-- KEYS[9] prio         zset
-- KEYS[10] priorities  hash
-- KEYS[11] meta        hash
-- KEYS[12] wake        list
-- KEYS[13] events      stream `replayed`
-- KEYS[14] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[15] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[16] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[17] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[18] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[19] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[20] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[21] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] task  string  the task's id
-- ARGV[2] n     int     jobs to take at most (1-1000)
--
-- Reply: numbers
-- Returns {code, replayed, skipped, left, task_replayed, task_skipped}: OK
-- with what this call did, how many jobs the task has left and what it did in
-- all; NOT_FOUND (no task), STALE (another task, or this one still
-- preparing) or DONE_ALREADY (the task is done), with nothing written.
--!include codes
--!include policy
--!include dead

local id = redis.call('HGET', K.redrive, 'id')
if not id then return { CODE.NOT_FOUND, 0, 0, 0, 0, 0 } end
local status = redis.call('HGET', K.redrive, 'status')
if id ~= A.task or status == 'preparing' then return { CODE.STALE, 0, 0, 0, 0, 0 } end
if status == 'done' then return { CODE.DONE_ALREADY, 0, 0, 0, 0, 0 } end

local batch = redis.call('ZRANGE', K.redrive_ids, 0, A.n - 1, 'WITHSCORES')
local taken, back, skipped = {}, {}, 0
for i = 1, #batch, 2 do
  local job, died = batch[i], batch[i + 1]
  taken[#taken + 1] = job
  if dead_take(K.dead, K.jobs, job, died) == CODE.OK then back[#back + 1] = job else skipped = skipped + 1 end
end
if #taken > 0 then redis.call('ZREM', K.redrive_ids, unpack(taken)) end

local pol = read_policy(K.meta)
local ev = events_new(K.events, pol.events_max, K.metrics)
dead_replay({ runs = K.runs, errors = K.errors, progress = K.progress, ready = K.ready, prio = K.prio,
  priorities = K.priorities, meta = K.meta, wake = K.wake,
  group_of = K.group_of, group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait,
  group_idle = K.group_idle, groups = K.groups, group_conf = K.group_conf }, back, ev, pol)
events_flush(ev)

local replayed = tonumber(redis.call('HGET', K.redrive, 'replayed') or '0') + #back
local skips = tonumber(redis.call('HGET', K.redrive, 'skipped') or '0') + skipped
redis.call('HSET', K.redrive, 'replayed', replayed, 'skipped', skips)
local left = redis.call('ZCARD', K.redrive_ids)
if left == 0 then redis.call('HSET', K.redrive, 'status', 'done', 'finished_at', now_ms()) end
return { CODE.OK, #back, skipped, left, replayed, skips }
