-- Expired leases: the worker died, hung or lost Redis. That lease counted as
-- an attempt; the job retries after its backoff, or is dead-lettered when its
-- attempts are used up. `k` is { leased, runs, jobs, errors, dead, delayed },
-- `d` the dedup keys (a dead job frees its key), `ev` the call's events
-- (`lease-expired`, then `retried` or `dead`). A grouped job's group waits
-- for its retry (strict order) or goes on (relaxed), as for a failure.
--!include ready
--!include record
--!include errors
--!include dedup
--!include events

local function reclaim(k, rq, d, ev, rnd)
  local now = math.floor(rq.now)
  local expired = redis.call('ZRANGEBYSCORE', k.leased, '-inf', now, 'LIMIT', 0, MAX_MOVE)
  local again, ended, retried = {}, {}, {}
  for _, id in ipairs(expired) do
    redis.call('ZREM', k.leased, id)
    local made = run_attempts(redis.call('HGET', k.runs, id))
    redis.call('HSET', k.runs, id, made .. '@' .. string.format('%d', now))
    local raw = redis.call('HGET', k.jobs, id)
    if raw then
      -- an unreadable record cannot run anyway: it is dead-lettered now
      local h = record_header(raw) or {}
      push_error(k.errors, id, cmsgpack.pack({
        name = 'LeaseExpired', message = 'lease expired: the worker died, hung or lost its connection',
        attempt = made }), rq.pol.max_errors, now)
      event(ev, 'lease-expired', id, made)
      if made >= (tonumber(h[REC.ATTEMPTS]) or 1) then
        redis.call('ZADD', k.dead, now, id)
        event(ev, 'dead', id, made)
        ended[#ended + 1] = id
        if h[REC.DEDUP_MODE] == 1 then dedup_release(d, h[REC.DEDUP_KEY], id) end
      else
        local delay = record_backoff(h, made, rnd)
        event(ev, 'retried', id, made)
        retried[#retried + 1] = id
        if delay > 0 then redis.call('HSET', k.runs, id, made .. '@' .. string.format('%d', now + delay)) end
        if delay > 0 then redis.call('ZADD', k.delayed, now + delay, id) else again[#again + 1] = id end
      end
    else
      ended[#ended + 1] = id
    end
  end
  if #expired > 0 then
    ready_stopped(rq, ended, 'end')
    ready_stopped(rq, retried, 'retry')
    ready_push(rq, again, nil, nil)
  end
end
