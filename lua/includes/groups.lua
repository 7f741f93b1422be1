-- Ordered groups (docs/design/018-groups.md), used only through ready.lua.
-- A job added with a group key waits in `group_queue` (one sorted set for all
-- groups, every score 0, so members sort by their bytes): member
-- "<group>\0<seq>\0<id>", seq a 16-digit number taken at the add, so each
-- group's jobs sort in the order added and one ZRANGEBYLEX finds a group's
-- first. `group_of` keeps, for each grouped job until it completes or is
-- deleted, "<seq><held><group>" (held '1': a failed job waiting for its retry
-- keeps its group's slot, so the group waits for it: strict order).
--
-- `groups` holds per group "<waiting>,<running>,<tat>": jobs in
-- group_queue, jobs holding a slot (leased, or held for a retry), and the
-- group's rate state (GCRA: the theoretical arrival time, ms; a back-off
-- pushes it). A group with a job waiting, a free slot and its next start
-- allowed is in `group_turn`, scored by virtual time: a lease takes the
-- lowest, and each start costs the group 1/weight, so groups take turns (a
-- group that becomes ready joins the back of the current round). One whose
-- next start is not allowed yet is in `group_wait`, scored by when it is (the
-- lease reply's due time covers it). A group's entry is deleted once it is
-- idle; an idle one whose rate state is still in use waits in `group_idle`,
-- scored by when it is not, and is forgotten then by any lease.
--
-- A script's group work goes through a context (group_ctx): state read once
-- per group, changed in Lua, and written with the group's place in
-- group_turn / group_wait by groups_flush.
--!include runs

local SEQ_LEN = 16

local function group_parse(v)
  return string.sub(v, 1, SEQ_LEN), string.sub(v, SEQ_LEN + 1, SEQ_LEN + 1) == '1', string.sub(v, SEQ_LEN + 2)
end

local function group_ctx(rq, pol, now)
  return { rq = rq, pol = pol, now = now, st = {}, order = {}, conf = {}, vt = pol.group_vt, vt0 = pol.group_vt }
end

-- The group's limits: the policy's defaults, overridden by its `group_conf`
-- entry "<concurrency>,<rate max>,<rate ms>,<weight>" (-1 = the default).
-- e is the time between starts at the rate, tau how far ahead a burst of
-- `max` may run (0, 0 without a rate limit).
local function group_limits(ctx, g)
  local c = ctx.conf[g]
  if c then return c end
  local p = ctx.pol
  local conc, rmax, rms, weight = p.group_concurrency, p.group_rate_max, p.group_rate_ms, 1
  if ctx.has_conf == nil then ctx.has_conf = redis.call('HLEN', ctx.rq.group_conf) > 0 end
  if ctx.has_conf then
    local v = redis.call('HGET', ctx.rq.group_conf, g)
    if v then
      local a, b, d, w = string.match(v, '^(-?%d+),(-?%d+),(-?%d+),(%d+)$')
      if tonumber(a) >= 0 then conc = tonumber(a) end
      if tonumber(b) >= 0 then rmax, rms = tonumber(b), tonumber(d) end
      weight = tonumber(w)
    end
  end
  local e = 0
  if rmax > 0 then e = rms / rmax end
  c = { conc = conc, e = e, tau = (rmax > 0) and (rmax - 1) * e or 0, weight = math.max(1, weight) }
  ctx.conf[g] = c
  return c
end

local function group_state(ctx, g)
  local s = ctx.st[g]
  if s then return s end
  s = { w = 0, r = 0, tat = 0 }
  local v = redis.call('HGET', ctx.rq.groups, g)
  if v then
    local w, r, t = string.match(v, '^(%d+),(%d+),(.+)$')
    s.w, s.r, s.tat = tonumber(w), tonumber(r), tonumber(t)
  end
  ctx.st[g] = s
  ctx.order[#ctx.order + 1] = g
  return s
end

-- Whether the group may start a job now (a job waiting, a slot free, the rate allowing).
local function group_runnable(ctx, g, s, c)
  return s.w > 0 and (c.conc == 0 or s.r < c.conc) and s.tat - c.tau <= ctx.now
end

-- Writes one group's state and puts it where it belongs; true when it joined group_turn.
local function group_place(ctx, g)
  local rq, s, c, now = ctx.rq, ctx.st[g], group_limits(ctx, g), ctx.now
  if s.w <= 0 and s.r <= 0 and s.tat <= now then
    redis.call('HDEL', rq.groups, g)
    redis.call('ZREM', rq.group_turn, g)
    redis.call('ZREM', rq.group_wait, g)
    redis.call('ZREM', rq.group_idle, g)
    return false
  end
  redis.call('HSET', rq.groups, g, s.w .. ',' .. s.r .. ',' .. score(s.tat))
  if group_runnable(ctx, g, s, c) then
    redis.call('ZREM', rq.group_wait, g)
    return redis.call('ZADD', rq.group_turn, 'NX', score(ctx.vt + 1 / c.weight), g) == 1
  end
  redis.call('ZREM', rq.group_turn, g)
  if s.w > 0 and (c.conc == 0 or s.r < c.conc) then
    redis.call('ZADD', rq.group_wait, score(s.tat - c.tau), g) -- its next start is allowed then
  else
    -- its slots are full (a finishing job places it again), or it is idle with its rate state in use
    redis.call('ZREM', rq.group_wait, g)
    if s.w <= 0 and s.r <= 0 then redis.call('ZADD', rq.group_idle, score(s.tat), g) end
  end
  return false
end

-- Writes every group the call touched; returns true when one joined group_turn.
local function groups_flush(ctx)
  local joined = false
  for _, g in ipairs(ctx.order) do
    if group_place(ctx, g) then joined = true end
  end
  ctx.st, ctx.order = {}, {}
  if ctx.vt ~= ctx.vt0 then redis.call('HSET', ctx.rq.meta, 'group_vt', score(ctx.vt)) end
  ctx.vt0 = ctx.vt
  return joined
end

-- group_of values of `ids` (false for ungrouped ones), or nil when no job has a group.
local function groups_lookup(rq, ids)
  if #ids == 0 or redis.call('HLEN', rq.group_of) == 0 then return nil end
  return redis.call('HMGET', rq.group_of, unpack(ids))
end

-- A grouped job becomes ready: it takes its place in its group (by its seq);
-- a held one gives its slot back, as it now waits like the others.
local function group_enter(ctx, id, v)
  local seq, held, g = group_parse(v)
  redis.call('ZADD', ctx.rq.group_queue, 0, g .. '\0' .. seq .. '\0' .. id)
  local s = group_state(ctx, g)
  s.w = s.w + 1
  if held then
    s.r = s.r - 1
    redis.call('HSET', ctx.rq.group_of, id, seq .. '0' .. g)
  end
end

-- A waiting grouped job leaves its group (cancel, remove); true when it was there.
local function group_leave(ctx, id, v)
  local seq, _, g = group_parse(v)
  if redis.call('ZREM', ctx.rq.group_queue, g .. '\0' .. seq .. '\0' .. id) == 0 then return false end
  local s = group_state(ctx, g)
  s.w = s.w - 1
  return true
end

-- A grouped job stops running, or a held one is gone: `hold` keeps its slot
-- (a strict retry), else the slot frees.
local function group_stop(ctx, id, v, hold)
  local seq, held, g = group_parse(v)
  if hold then
    if not held then redis.call('HSET', ctx.rq.group_of, id, seq .. '1' .. g) end
    return
  end
  local s = group_state(ctx, g)
  s.r = s.r - 1
  if held then redis.call('HSET', ctx.rq.group_of, id, seq .. '0' .. g) end
end

-- Groups whose wait is over (a rate limit or back-off ended) are placed
-- again, and idle ones whose rate state is spent forgotten. Returns when the
-- next wait is over (0 = none).
local function groups_due(ctx)
  local due = redis.call('ZRANGEBYSCORE', ctx.rq.group_wait, '-inf', ctx.now, 'LIMIT', 0, 1000)
  for _, g in ipairs(redis.call('ZRANGEBYSCORE', ctx.rq.group_idle, '-inf', ctx.now, 'LIMIT', 0, 100)) do
    due[#due + 1] = g
  end
  for _, g in ipairs(due) do
    group_state(ctx, g)
    group_place(ctx, g)
  end
  local nxt = redis.call('ZRANGE', ctx.rq.group_wait, 0, 0, 'WITHSCORES')
  return tonumber(nxt[2]) or 0
end

-- Takes the first job of the group first in turn (its score `at`); nil when
-- none (the group left group_turn, or its state was off: repaired).
local function group_take(ctx, g, at)
  local rq = ctx.rq
  redis.call('ZREM', rq.group_turn, g)
  local s, c = group_state(ctx, g), group_limits(ctx, g)
  if not group_runnable(ctx, g, s, c) then return nil end -- groups_flush puts it where it belongs
  local m = redis.call('ZRANGEBYLEX', rq.group_queue, '[' .. g .. '\0', '(' .. g .. '\1', 'LIMIT', 0, 1)[1]
  if not m then
    s.w = 0
    return nil
  end
  redis.call('ZREM', rq.group_queue, m)
  s.w, s.r = s.w - 1, s.r + 1
  if c.e > 0 then s.tat = math.max(s.tat, ctx.now) + c.e end
  ctx.vt = at
  if group_runnable(ctx, g, s, c) then redis.call('ZADD', rq.group_turn, score(at + 1 / c.weight), g) end
  return string.sub(m, #g + SEQ_LEN + 3)
end

-- A back-off for the group: no job of it starts before `until_ms`.
local function group_hold_until(ctx, g, until_ms)
  local s, c = group_state(ctx, g), group_limits(ctx, g)
  s.tat = math.max(s.tat, until_ms + c.tau)
end
