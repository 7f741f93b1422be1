-- The ready structure: the one place that knows how waiting jobs are ordered.
-- Every script that makes a job ready, takes one, or removes one goes through
-- these functions; `rq` comes from ready_keys (key names, the policy, now).
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
--
-- A job with a group waits in its group instead (includes/groups.lua): the
-- lease serves groups in turn, and the jobs without a group as if they were
-- one more group without a slot limit. Before any job starts, the queue's own
-- limits apply: a back-off (`hold_until`), the most jobs running at once
-- (`max_running`) and the rate of starts (GCRA on `rate_tat`: up to rate_max
-- at once after a quiet spell, then rate_max per rate_ms, evenly).
--!include runs
--!include groups

-- `k` names the keys { ready, prio, priorities, meta, group_of, group_queue,
-- group_turn, group_wait, group_idle, groups, group_conf }; `pol` is the
-- policy (read_policy), `now` ms with a sub-ms fraction.
local function ready_keys(k, pol, now)
  return { ready = k.ready, prio = k.prio, priorities = k.priorities, meta = k.meta, group_of = k.group_of,
    group_queue = k.group_queue, group_turn = k.group_turn, group_wait = k.group_wait, group_idle = k.group_idle,
    groups = k.groups, group_conf = k.group_conf, pol = pol, now = now }
end

local function ready_groups(rq)
  if not rq.g then rq.g = group_ctx(rq, rq.pol, rq.now) end
  return rq.g
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

-- Jobs added with a group (`plans`, each { id, group }, in add order) get
-- their seq from meta's counter and their group_of entry; each plan's `gval`
-- is set to it.
local function ready_assign(rq, plans)
  if #plans == 0 then return end
  local seq = redis.call('HINCRBY', rq.meta, 'group_seq', #plans) - #plans
  local args = {}
  for i, p in ipairs(plans) do
    p.gval = string.format('%016d', seq + i) .. '0' .. p.group
    args[#args + 1] = p.id; args[#args + 1] = p.gval
  end
  redis.call('HSET', rq.group_of, unpack(args))
end

-- Appends jobs without a group (or the next job of a group on the fast
-- path) at the back of their priority. `prios`: their priorities, nil to
-- look them up. Returns true (a job may start: worth a wake-up).
local function ready_push_plain(rq, ids, prios)
  prios = prios or ready_priorities(rq, ids)
  local now, aging_ms = rq.now, rq.pol.aging_ms
  local zc = redis.call('ZCARD', rq.prio)
  -- counted by hand, not with `#t` (a search in Lua 5.1): this loop runs per job
  local list, z, nl, nz = {}, {}, 0, 0
  for i = 1, #ids do
    local id, p = ids[i], prios[i]
    if p == 0 and zc == 0 and nz == 0 then
      nl = nl + 1
      list[nl] = id
    else
      -- 1 µs apart keeps one call's jobs in their order
      z[nz + 1] = score(now - p * aging_ms + (nz / 2) * 0.001); z[nz + 2] = id
      nz = nz + 2
    end
  end
  if nl > 0 then redis.call('RPUSH', rq.ready, unpack(list)) end
  if nz > 0 then
    if zc == 0 then redis.call('HSET', rq.meta, 'list_until', score(now)) end
    redis.call('ZADD', rq.prio, unpack(z))
  end
  return true
end

-- Writes the group work of the call; the next jobs of fast-path groups whose
-- slot freed join the ready list. True when a job may start because of it.
local function ready_flush(rq, ctx)
  local joined = groups_flush(ctx)
  local adv = ctx.advanced
  if #adv > 0 then
    ctx.advanced = {}
    ready_push_plain(rq, adv, nil)
    joined = true
  end
  return joined
end

-- The groups of the grouped ones among `gvals` (group_of values), their
-- states read in one call.
local function ready_fetch_groups(ctx, gvals, n)
  local gs = {}
  for i = 1, n do
    if gvals[i] then
      local _, _, g = group_parse(gvals[i])
      gs[#gs + 1] = g
    end
  end
  groups_fetch(ctx, gs)
end

-- Splits `ids` into grouped ones (entered into their groups now) and the
-- rest (returned). `gvals`: their group_of values, nil to look them up,
-- false when the caller knows none has a group (jobs just added without one).
local function ready_enter_groups(rq, ids, gvals)
  if gvals == false then return ids, false end
  gvals = gvals or groups_lookup(rq, ids)
  if not gvals then return ids, false end
  local rest, ctx = {}, nil
  if #ids > 1 then ready_fetch_groups(ready_groups(rq), gvals, #ids) end
  for i, id in ipairs(ids) do
    if gvals[i] then
      ctx = ctx or ready_groups(rq)
      -- a group on the fast path sends its next job to the ready list as it is
      if group_enter(ctx, id, gvals[i]) then rest[#rest + 1] = id end
    else
      rest[#rest + 1] = id
    end
  end
  return rest, ctx ~= nil and ready_flush(rq, ctx)
end

-- Appends `ids` at the back of their priority (or their group), in order.
-- `prios` are their priorities (nil: looked up), `gvals` their group_of
-- values (nil: looked up; false: none has a group). Returns true when a job
-- may start now because of it (one without a group, or its group's turn
-- came): worth a wake-up.
local function ready_push(rq, ids, prios, gvals)
  if #ids == 0 then return false end
  local rest, joined = ready_enter_groups(rq, ids, gvals)
  if #rest == 0 then return joined end
  if #rest < #ids then prios = nil end
  return ready_push_plain(rq, rest, prios)
end

-- Puts `ids` back at the very front, in order (jobs released at shutdown or
-- backed off); a grouped one goes back to its group, where its seq puts it
-- ahead of the jobs added after it.
local function ready_push_front(rq, ids)
  if #ids == 0 then return end
  ids = ready_enter_groups(rq, ids, nil)
  if #ids == 0 then return end
  local now = rq.now
  local prios = ready_priorities(rq, ids)
  local any = false
  for i = 1, #ids do if prios[i] ~= 0 then any = true end end
  if not any and redis.call('ZCARD', rq.prio) == 0 then
    -- LPUSH pushes its arguments one by one to the front: the last first keeps the batch's order
    -- (in calls of at most 1,000: unpack has a limit)
    local rev = {}
    for i = #ids, 1, -1 do
      rev[#rev + 1] = ids[i]
      if #rev == 1000 or i == 1 then
        redis.call('LPUSH', rq.ready, unpack(rev))
        rev = {}
      end
    end
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

-- Takes up to n jobs without a group in run order.
local function ready_pop_plain(rq, n)
  if n <= 0 then return {} end
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
    take_prio(n, '(' .. score(rq.pol.list_until))
    if #out < n then
      for _, id in ipairs(redis.call('LPOP', rq.ready, n - #out) or {}) do out[#out + 1] = id end
    end
  end
  if #out < n then take_prio(n - #out, '+inf') end
  return out
end

-- How many jobs the queue's own limits let start now (of n wanted), and, when
-- they hold some back, when that changes (ms, 0 = not by time: a running job
-- must end first).
local function ready_allowance(rq, n, leased_key)
  local pol, now = rq.pol, rq.now
  if pol.hold_until > now then
    rq.limited_at = pol.hold_until
    return 0, pol.hold_until
  end
  local at = 0
  if pol.max_running > 0 then
    n = math.min(n, pol.max_running - redis.call('ZCOUNT', leased_key, '-inf', '(inf'))
  end
  if pol.rate_max > 0 then
    local e = pol.rate_ms / pol.rate_max
    local tau = (pol.rate_max - 1) * e
    local tat = math.max(pol.rate_tat, now)
    local avail = 0
    if now + tau >= tat then avail = math.min(pol.rate_max, math.floor((now + tau - tat) / e + 1e-9) + 1) end
    if avail < n then
      n = avail
      at = tat + avail * e - tau
    end
  end
  if at > 0 then rq.limited_at = at end
  return math.max(0, n), at
end

-- The queue's rate state after `started` starts.
local function ready_started(rq, started)
  local pol = rq.pol
  if pol.rate_max > 0 and started > 0 then
    local tat = math.max(pol.rate_tat, rq.now) + started * pol.rate_ms / pol.rate_max
    pol.rate_tat = tat
    redis.call('HSET', rq.meta, 'rate_tat', score(tat))
  end
end

-- Takes up to n jobs in run order, within the queue's limits. Returns the
-- ids and when more may start by time alone (ms, 0 = none: the lease reply's
-- due time covers it).
local function ready_pop(rq, n, leased_key)
  local at
  n, at = ready_allowance(rq, n, leased_key)
  if n <= 0 then return {}, at end
  -- no group in turn or waiting (none, or all on the fast path, their next jobs in the ready list)
  if redis.call('HLEN', rq.groups) == 0 or redis.call('ZCARD', rq.group_turn) + redis.call('ZCARD', rq.group_wait)
      + redis.call('ZCARD', rq.group_idle) == 0 then
    local out = ready_pop_plain(rq, n)
    ready_started(rq, #out)
    return out, at
  end
  local ctx = ready_groups(rq)
  local wait_at = groups_due(ctx)
  if wait_at > 0 and (at == 0 or wait_at < at) then at = wait_at end
  local out = {}
  local plain = redis.call('LLEN', rq.ready) + redis.call('ZCARD', rq.prio)
  local lane = math.max(rq.pol.lane_vt, ctx.vt)
  while #out < n do
    local g, gat = groups_head(ctx, n - #out)
    if plain > 0 and (not gat or lane <= gat) then
      -- the jobs without a group: their turns until the first group's
      local k = n - #out
      if gat then k = math.min(k, math.floor(gat - lane) + 1) end
      local got = ready_pop_plain(rq, k)
      for _, id in ipairs(got) do out[#out + 1] = id end
      if #got > 0 then
        ctx.vt = lane + #got - 1
        lane = lane + #got
      end
      if #got < k then plain = 0 end
    elseif gat then
      local id = group_take(ctx, g, gat)
      if id then out[#out + 1] = id end
    else
      break
    end
  end
  if lane ~= rq.pol.lane_vt then redis.call('HSET', rq.meta, 'lane_vt', score(lane)) end
  ready_flush(rq, ctx)
  ready_started(rq, #out)
  return out, at
end

-- Jobs waiting to run (not delayed), grouped ones included.
local function ready_len(rq)
  return redis.call('LLEN', rq.ready) + redis.call('ZCARD', rq.prio) + redis.call('ZCARD', rq.group_queue)
end

-- Whether a job may be ready to start (for passing a wake-up on).
local function ready_more(rq)
  -- most often the list answers: one command, not three
  return redis.call('LLEN', rq.ready) > 0 or redis.call('ZCARD', rq.prio) > 0 or redis.call('ZCARD', rq.group_turn) > 0
end

-- Takes one job out wherever it waits; true when it was there. LREM scans the
-- list: O(backlog), for explicit actions (cancel, remove) only.
local function ready_remove(rq, id)
  local gv = groups_lookup(rq, { id })
  if gv and gv[1] then
    local ctx = ready_groups(rq)
    local was = group_leave(ctx, id, gv[1])
    if not was and redis.call('ZREM', rq.prio, id) + redis.call('LREM', rq.ready, 1, id) > 0 then
      -- the next job of a fast-path group, in the ready list: its slot frees
      was = true
      group_stop(ctx, id, gv[1], false)
    end
    ready_flush(rq, ctx)
    return was
  end
  return redis.call('ZREM', rq.prio, id) + redis.call('LREM', rq.ready, 1, id) > 0
end

-- Leased jobs that stopped running give their group's slot back. `how`:
-- 'retry' (a strict group keeps the slot until the retry runs: the group
-- waits for it), 'back' (released or backed off: it will wait again at once),
-- 'end' (completed, dead, cancelled). Returns true when a group may start a
-- job because of it, and the jobs' group_of values (for ready_forget).
local function ready_stopped(rq, ids, how)
  local gvals = groups_lookup(rq, ids)
  if not gvals then return false, false end
  local ctx = nil
  local hold = how == 'retry' and rq.pol.group_order == 0
  if #ids > 1 and not hold then ready_fetch_groups(ready_groups(rq), gvals, #ids) end
  for i, id in ipairs(ids) do
    if gvals[i] then
      ctx = ctx or ready_groups(rq)
      group_stop(ctx, id, gvals[i], hold, how == 'back')
    end
  end
  return ctx ~= nil and ready_flush(rq, ctx), gvals
end

-- A group's limits changed: it is put where they say; true when it may start a job now.
local function ready_group_changed(rq, g)
  if redis.call('HEXISTS', rq.groups, g) == 0 then return false end
  local ctx = ready_groups(rq)
  group_state(ctx, g)
  return ready_flush(rq, ctx)
end

-- A back-off of a grouped job's group: the job goes back to its place, and
-- no job of the group starts before until_ms. False for a job without a group.
local function ready_hold_group(rq, id, until_ms)
  local gv = groups_lookup(rq, { id })
  if not (gv and gv[1]) then return false end
  local ctx = ready_groups(rq)
  local _, _, g = group_parse(gv[1])
  -- on the fast path the job waits out the back-off as a delayed job, keeping its group's slot
  if group_limits(ctx, g).simple then return false end
  group_enter(ctx, id, gv[1])
  group_hold_until(ctx, g, until_ms)
  ready_flush(rq, ctx)
  return true
end

-- Forgets the priorities and groups of jobs that are gone for good, or done
-- with their group (completed, cancelled); a job that still held its group's
-- slot for a retry gives it back. `gvals`: their group_of values when the
-- caller has them (from ready_stopped: false when no job has a group), else looked up.
local function ready_forget(rq, ids, gvals)
  if #ids == 0 then return false end
  if redis.call('HLEN', rq.priorities) > 0 then redis.call('HDEL', rq.priorities, unpack(ids)) end
  if gvals == nil then gvals = groups_lookup(rq, ids) end
  if not gvals then return false end
  local ctx, gone = nil, {}
  for i, id in ipairs(ids) do
    local v = gvals[i]
    if v then
      gone[#gone + 1] = id
      local _, held = group_parse(v)
      if held then
        ctx = ctx or ready_groups(rq)
        group_stop(ctx, id, v, false)
      end
    end
  end
  if #gone > 0 then redis.call('HDEL', rq.group_of, unpack(gone)) end
  return ctx ~= nil and ready_flush(rq, ctx)
end
