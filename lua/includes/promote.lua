-- Due delayed jobs (a delay or a retry backoff is over) become ready, at the
-- back of their priority.
--!include ready

local MAX_MOVE = 1000  -- due or expired jobs moved per call; the rest next call

local function promote(delayed_key, rq, now, aging_ms)
  local due = redis.call('ZRANGEBYSCORE', delayed_key, '-inf', now, 'LIMIT', 0, MAX_MOVE)
  if #due > 0 then
    redis.call('ZREM', delayed_key, unpack(due))
    ready_push(rq, due, nil, now, aging_ms)
  end
end
