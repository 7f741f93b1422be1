-- The lease step shared by lease.lua and ack.lua: promote due delayed jobs,
-- reclaim expired leases, then lease up to `n` ready jobs.
-- Needs K.ready, K.delayed, K.leased, K.runs, K.jobs, K.errors, K.dead,
-- K.meta, K.wake, K.fence, and the includes codes, wake, record, errors, runs.

local MAX_MOVE = 1000  -- due or expired jobs moved per call; the rest next call

-- Due delayed jobs (delay or retry backoff over) go to the back of `ready`.
local function promote(now)
  local due = redis.call('ZRANGEBYSCORE', K.delayed, '-inf', now, 'LIMIT', 0, MAX_MOVE)
  if #due > 0 then
    redis.call('RPUSH', K.ready, unpack(due))
    redis.call('ZREM', K.delayed, unpack(due))
  end
end

-- Expired leases: the worker died or hung. That lease counted as an attempt;
-- the job retries after its backoff, or is dead-lettered when attempts are used up.
local function reclaim(now, rnd, max_errors)
  local expired = redis.call('ZRANGEBYSCORE', K.leased, '-inf', now, 'LIMIT', 0, MAX_MOVE)
  for _, id in ipairs(expired) do
    redis.call('ZREM', K.leased, id)
    local made = run_attempts(redis.call('HGET', K.runs, id))
    redis.call('HSET', K.runs, id, made)
    local raw = redis.call('HGET', K.jobs, id)
    if raw then
      -- an unreadable record cannot run anyway: it is dead-lettered now
      local rec = record_header(raw) or {}
      local max = tonumber(rec[2]) or 1
      push_error(K.errors, id, cmsgpack.pack({
        name = 'LeaseExpired', message = 'lease expired: the worker died, hung or lost its connection',
        attempt = made }), max_errors, now)
      if made >= max then
        redis.call('ZADD', K.dead, now, id)
      else
        local delay = record_backoff(rec, made, rnd)
        if delay > 0 then
          redis.call('ZADD', K.delayed, now + delay, id)
        else
          redis.call('RPUSH', K.ready, id)
        end
      end
    end
  end
end

-- Leases up to n ready jobs until now + lease_ms. With `announce`, leasing
-- into an empty `leased` set also leaves a wake token: an idle worker wakes,
-- learns the new lease deadline and arms a timer for it, so an expired lease
-- is reclaimed on time even when every other worker is idle (they otherwise
-- wait in BLPOP for up to maxIdleMs). Returns a flat array
-- {next_in_ms, id1, token1, attempt1, record1, id2, ...}; a token is the
-- "<attempt>:<fence>" string stored in `runs`. next_in_ms is -1
-- when the batch was full (more may be ready), else the time until the next
-- delayed job is due or lease expires (0 = none: block as long as you like).
local function lease_batch(now, n, lease_ms, announce)
  local out = { -1 }
  local ids = false
  if n > 0 and redis.call('HEXISTS', K.meta, 'paused') == 0 then
    ids = redis.call('LPOP', K.ready, n)
  end
  if ids then
    local recs = redis.call('HMGET', K.jobs, unpack(ids))
    local runs = redis.call('HMGET', K.runs, unpack(ids))
    local first = redis.call('INCRBY', K.fence, #ids) - #ids
    local deadline = now + lease_ms
    local zargs, rargs = {}, {}
    for i, id in ipairs(ids) do
      if recs[i] then -- a record removed by the user leaves a stale id: skip it
        local attempt = run_attempts(runs[i]) + 1
        local token = attempt .. ':' .. string.format('%d', first + i)
        zargs[#zargs + 1] = deadline; zargs[#zargs + 1] = id
        rargs[#rargs + 1] = id; rargs[#rargs + 1] = token
        out[#out + 1] = id; out[#out + 1] = token; out[#out + 1] = attempt; out[#out + 1] = recs[i]
      end
    end
    if #zargs > 0 then
      if announce and redis.call('ZCOUNT', K.leased, '-inf', '(inf') == 0 then wake(K.wake) end
      keep_skiplist(K.leased)
      keep_hashtable(K.runs)
      redis.call('ZADD', K.leased, unpack(zargs))
      redis.call('HSET', K.runs, unpack(rargs))
    end
  end
  if ids and #ids == n then
    -- a full batch: maybe more is ready, so pass the wake-up on to another idle worker
    if redis.call('LLEN', K.ready) > 0 then wake(K.wake) end
  else
    local next_at = 0
    local d = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
    if d[2] then next_at = tonumber(d[2]) end
    local l = redis.call('ZRANGEBYSCORE', K.leased, '-inf', '(inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if l[2] and (next_at == 0 or tonumber(l[2]) < next_at) then next_at = tonumber(l[2]) end
    if next_at > 0 then out[1] = math.max(1, next_at - now) else out[1] = 0 end
  end
  return out
end
