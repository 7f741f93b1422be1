-- Due delayed jobs (a delay or a retry backoff is over) become ready, at the
-- back of their priority (a grouped one at its place in its group). Each one's `runs` value becomes
-- "<attempts>@<run-at ms>": when it became runnable, which the lease hands to
-- the worker for the wait-time histogram (delays and backoff excluded).
--!include ready
--!include runs

local MAX_MOVE = 1000  -- due or expired jobs moved per call; the rest next call

local function promote(delayed_key, runs_key, rq)
  local due = redis.call('ZRANGEBYSCORE', delayed_key, '-inf', rq.now, 'WITHSCORES', 'LIMIT', 0, MAX_MOVE)
  if #due > 0 then
    local ids = {}
    for i = 1, #due / 2 do ids[i] = due[2 * i - 1] end
    redis.call('ZREM', delayed_key, unpack(ids))
    local made = redis.call('HMGET', runs_key, unpack(ids))
    local rargs = {}
    for i = 1, #ids do
      rargs[2 * i - 1] = ids[i]
      rargs[2 * i] = run_attempts(made[i]) .. '@' .. string.format('%d', tonumber(due[2 * i]))
    end
    redis.call('HSET', runs_key, unpack(rargs))
    ready_push(rq, ids, nil, nil)
  end
end
