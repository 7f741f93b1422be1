-- redrive-build: make the queue's redrive task (an operator's resumable replay
-- of dead jobs), in as many calls as its jobs need: the first (`create`)
-- starts it, each call adds the dead jobs it will replay with the death each
-- was matched in, the last (`seal`) makes it active. A task left preparing
-- (its maker stopped half-way) has replayed nothing and is replaced by the
-- next create; an active one is refused until it is done or dropped.
--
-- KEYS[1] redrive      hash   the task: id, status, filter, created_at, total, replayed, skipped, finished_at
-- KEYS[2] redrive_ids  zset   jobs left to replay, scored by the death each was matched in
--
-- ARGV[1] task    string  the task's id (random, made by the caller)
-- ARGV[2] create  bool    1 = start the task (replacing a preparing or done one)
-- ARGV[3] seal    bool    1 = the last call: the task becomes active (done at once when empty)
-- ARGV[4] filter  string  what the task replays, as the caller describes it (kept for operators; read on create)
-- ARGV[5..] jobs  {id: string, died: string}  at most ~1000 per call; `died` is the job's `dead` score as read
--
-- Reply: numbers
-- Returns {code, n}: OK with n = the jobs in the task so far; DUPLICATE (an
-- active task exists; n = the jobs it has left) or STALE (the task is not this
-- caller's to build any more: replaced by another create, dropped, or sealed)
-- with nothing written.
--!include codes
--!include now
--!include redrive

local id = redis.call('HGET', K.redrive, 'id')
local status = redis.call('HGET', K.redrive, 'status')
if A.create then
  if id and status == 'active' then return { CODE.DUPLICATE, redis.call('ZCARD', K.redrive_ids) } end
  redrive_clear(K.redrive, K.redrive_ids)
  redis.call('HSET', K.redrive, 'id', A.task, 'status', 'preparing', 'filter', A.filter, 'created_at', now_ms(),
    'total', 0, 'replayed', 0, 'skipped', 0)
elseif id ~= A.task or status ~= 'preparing' then
  return { CODE.STALE, 0 }
end
for i = 1, A.jobs_n do
  local job, died = jobs(i)
  redis.call('ZADD', K.redrive_ids, died, job)
end
local total = redis.call('ZCARD', K.redrive_ids)
redis.call('HSET', K.redrive, 'total', total)
if A.seal then
  if total == 0 then
    redis.call('HSET', K.redrive, 'status', 'done', 'finished_at', now_ms())
  else
    redis.call('HSET', K.redrive, 'status', 'active')
  end
end
return { CODE.OK, total }
