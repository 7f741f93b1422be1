-- The ready structure: the one place that knows how waiting jobs are ordered.
-- Every script that makes a job ready, takes one, or removes one goes through
-- these functions; `rq` is { ready, prio, priorities, meta } (key names).
--
-- Jobs without a priority wait in the `ready` list, oldest first: the fast
-- path, one RPUSH and one LPOP. A job with a priority waits in the `prio`
-- sorted set, scored `added_at - priority * aging_ms`: lower runs first, so a
-- higher priority runs first, one priority level is worth `aging_ms` of
-- waiting (a low priority job is overtaken only by jobs that arrive less than
-- `(their priority - its priority) * aging_ms` after it: no starvation), and
-- jobs of one priority keep their order. While `prio` holds a job, every new
-- job goes there too, so everything in the list is older than everything in
-- `prio`; `meta.list_until` records when `prio` last filled up, and the list's
-- jobs count as added then (at the latest), which keeps aging correct across
-- the two. A job's priority is kept in `priorities` (jobs with one only) so
-- that retries, promotions and replays keep it.
--!include runs

local function ready_keys(ready, prio, priorities, meta)
  return { ready = ready, prio = prio, priorities = priorities, meta = meta }
end

-- Priorities of `ids` (0 for none), read only when some job has one.
local function ready_priorities(rq, ids)
  local out = {}
  if #ids > 0 and redis.call('HLEN', rq.priorities) > 0 then
    local ps = redis.call('HMGET', rq.priorities, unpack(ids))
    for i = 1, #ids do out[i] = tonumber(ps[i]) or 0 end
  else
    for i = 1, #ids do out[i] = 0 end
  end
  return out
end

-- Appends `ids` (with their priorities, or looked up when `prios` is nil) at
-- the back of their priority, in order. `now` is ms with a sub-ms fraction.
local function ready_push(rq, ids, prios, now, aging_ms)
  if #ids == 0 then return end
  prios = prios or ready_priorities(rq, ids)
  local zc = redis.call('ZCARD', rq.prio)
  local list, z = {}, {}
  for i, id in ipairs(ids) do
    local p = prios[i]
    if p == 0 and zc == 0 and #z == 0 then
      list[#list + 1] = id
    else
      -- 1 µs apart keeps one call's jobs in their order
      z[#z + 1] = score(now - p * aging_ms + (#z / 2) * 0.001); z[#z + 1] = id
    end
  end
  if #list > 0 then redis.call('RPUSH', rq.ready, unpack(list)) end
  if #z > 0 then
    if zc == 0 then redis.call('HSET', rq.meta, 'list_until', score(now)) end
    redis.call('ZADD', rq.prio, unpack(z))
  end
end

-- Puts `ids` back at the very front, in order (jobs released at shutdown).
local function ready_push_front(rq, ids, now)
  if #ids == 0 then return end
  local prios = ready_priorities(rq, ids)
  local any = false
  for i = 1, #ids do if prios[i] ~= 0 then any = true end end
  if not any and redis.call('ZCARD', rq.prio) == 0 then
    -- LPUSH reverses; push the last first so the batch keeps its order
    for i = #ids, 1, -1 do redis.call('LPUSH', rq.ready, ids[i]) end
    return
  end
  -- ahead of the first job in `prio`, and of any the list holds (they count as added at list_until <= now)
  local head = redis.call('ZRANGE', rq.prio, 0, 0, 'WITHSCORES')
  local base = math.min(tonumber(head[2]) or now, now - 1e12)
  local z = {}
  for i, id in ipairs(ids) do z[#z + 1] = score(base - (#ids - i + 1) * 0.001); z[#z + 1] = id end
  if redis.call('ZCARD', rq.prio) == 0 then redis.call('HSET', rq.meta, 'list_until', score(now)) end
  redis.call('ZADD', rq.prio, unpack(z))
end

-- Takes up to n jobs in run order; `list_until` comes from read_policy.
local function ready_pop(rq, n, list_until)
  if redis.call('ZCARD', rq.prio) == 0 then return redis.call('LPOP', rq.ready, n) or {} end
  local out = {}
  local function take_prio(max, below)
    local got = redis.call('ZRANGEBYSCORE', rq.prio, '-inf', below, 'LIMIT', 0, max)
    if #got > 0 then
      redis.call('ZREM', rq.prio, unpack(got))
      for _, id in ipairs(got) do out[#out + 1] = id end
    end
  end
  if redis.call('LLEN', rq.ready) > 0 then
    take_prio(n, '(' .. score(list_until))
    if #out < n then
      for _, id in ipairs(redis.call('LPOP', rq.ready, n - #out) or {}) do out[#out + 1] = id end
    end
  end
  if #out < n then take_prio(n - #out, '+inf') end
  return out
end

-- Jobs waiting to run (not delayed).
local function ready_len(rq)
  return redis.call('LLEN', rq.ready) + redis.call('ZCARD', rq.prio)
end

-- Takes one job out wherever it waits; true when it was there. LREM scans the
-- list: O(backlog), for explicit actions (cancel, remove) only.
local function ready_remove(rq, id)
  return redis.call('ZREM', rq.prio, id) + redis.call('LREM', rq.ready, 1, id) > 0
end

-- Forgets the priorities of jobs that are gone for good.
local function ready_forget(priorities_key, ids)
  if #ids > 0 and redis.call('HLEN', priorities_key) > 0 then redis.call('HDEL', priorities_key, unpack(ids)) end
end
