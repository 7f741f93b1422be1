-- Ordered groups (docs/design/018-groups.md), used only through ready.lua.
-- A job added with a group key waits in `group_queue` (one sorted set for all
-- groups, every score 0, so members sort by their bytes): member
-- "<group>\0<seq>\0<id>", seq a 16-digit number taken at the add, so each
-- group's jobs sort in the order added and one ZRANGEBYLEX finds a group's
-- first. `group_of` keeps, for each grouped job until it completes or is
-- deleted, "<seq><held><group>" (held '1': a failed job waiting for its retry
-- keeps its group's slot, so the group waits for it: strict order).
--
-- `groups` holds per group "<waiting>,<running>,<tat>,<place>,<head>": jobs in
-- group_queue, jobs holding a slot (leased, held for a retry, or the fast
-- path's next job in the ready list), the group's rate state (GCRA: the
-- theoretical arrival time, ms; a back-off pushes it), which of the sets
-- below holds the group (t, w, i, or - for none), so that writes go only
-- where something changes, and on the fast path the id of the job that
-- holds the slot from the ready list ('' for none; readers count it as
-- waiting until it is leased).
--
-- The fast path: a group with the default limits (concurrency 1, no rate,
-- weight 1) is never in group_turn. When its slot frees, its next job joins
-- the plain ready list, where jobs without a group wait too: a lease takes
-- it as any other job (no group work), and the groups take turns in the
-- list's order, each re-joining at the back when its job ends.
--
-- Any other group with a job waiting, a free slot and its next start allowed is in `group_turn`,
-- scored by virtual time: a lease takes the lowest, and each start costs the
-- group 1/weight, so groups take turns (a group that becomes ready joins the
-- back of the current round). One whose next start is not allowed yet is in
-- `group_wait`, scored by when it is (the lease reply's due time covers it).
-- A group's entry is deleted once it is idle; an idle one whose rate state is
-- still in use waits in `group_idle`, scored by when it is not, and is
-- forgotten then by any lease.
--
-- A script's group work goes through a context (group_ctx): each group's
-- state read once (several in one HMGET where the script knows them ahead),
-- changed in Lua, and written back by groups_flush in one command per key,
-- however many groups and jobs the call touched.
--!include runs

local SEQ_LEN = 16

local function group_parse(v)
  return string.sub(v, 1, SEQ_LEN), string.sub(v, SEQ_LEN + 1, SEQ_LEN + 1) == '1', string.sub(v, SEQ_LEN + 2)
end

-- Small counts as strings, each formatted once (a number in a concatenation
-- is a sprintf: the most frequent cost of writing states). Only counts below
-- NUM_MAX are kept: in a Functions library this table outlives the call.
local NUM, NUM_MAX = {}, 4096
local function num(n)
  local v = NUM[n]
  if not v then
    v = string.format('%d', n)
    if n >= 0 and n < NUM_MAX and n % 1 == 0 then NUM[n] = v end
  end
  return v
end

local function group_ctx(rq, pol, now)
  return { rq = rq, pol = pol, now = now, st = {}, order = {}, conf = {}, vt = pol.group_vt, vt0 = pol.group_vt,
    gq_add = {}, gq_rem = {}, gof = {}, advanced = {} }
end

-- The group's limits: the policy's defaults, overridden by its `group_conf`
-- entry "<concurrency>,<rate max>,<rate ms>,<weight>" (-1 = the default).
-- e is the time between starts at the rate, tau how far ahead a burst of
-- `max` may run (0, 0 without a rate limit).
local function limits_of(conc, rmax, rms, weight)
  local e = 0
  if rmax > 0 then e = rms / rmax end
  weight = math.max(1, weight)
  -- one at a time, no rate, the usual share: its next job simply joins the ready list (the fast path)
  return { conc = conc, e = e, tau = (rmax > 0) and (rmax - 1) * e or 0, weight = weight, simple = conc == 1 and e == 0 and weight == 1 }
end

local function group_limits(ctx, g)
  local c = ctx.conf[g]
  if c then return c end
  local p = ctx.pol
  if ctx.has_conf == nil then
    ctx.has_conf = redis.call('HLEN', ctx.rq.group_conf) > 0
    ctx.default = limits_of(p.group_concurrency, p.group_rate_max, p.group_rate_ms, 1)
  end
  c = ctx.default
  if ctx.has_conf then
    local v = redis.call('HGET', ctx.rq.group_conf, g)
    if v then
      local conc, rmax, rms = p.group_concurrency, p.group_rate_max, p.group_rate_ms
      local a, b, d, w = string.match(v, '^(-?%d+),(-?%d+),(-?%d+),(%d+)$')
      if tonumber(a) >= 0 then conc = tonumber(a) end
      if tonumber(b) >= 0 then rmax, rms = tonumber(b), tonumber(d) end
      c = limits_of(conc, rmax, rms, tonumber(w))
    end
  end
  ctx.conf[g] = c
  return c
end

local function group_new_state(ctx, g, v)
  local s = { w = 0, r = 0, tat = 0, at = '-', head = '' }
  if v then
    local w, r, t, at, head = string.match(v, '^(%d+),(%d+),([^,]+),(.),(.*)$')
    if w then s.w, s.r, s.tat, s.at, s.head = tonumber(w), tonumber(r), tonumber(t), at, head end
  end
  ctx.st[g] = s
  ctx.order[#ctx.order + 1] = g
  return s
end

local function group_state(ctx, g)
  return ctx.st[g] or group_new_state(ctx, g, redis.call('HGET', ctx.rq.groups, g))
end

-- Reads the state of the groups in `gs` not read yet, in one HMGET.
local function groups_fetch(ctx, gs)
  local need = {}
  for _, g in ipairs(gs) do if not ctx.st[g] then need[#need + 1] = g end end
  if #need == 0 then return end
  local vals = redis.call('HMGET', ctx.rq.groups, unpack(need))
  for i, g in ipairs(need) do if not ctx.st[g] then group_new_state(ctx, g, vals[i]) end end
end

-- Whether the group may start a job now (a job waiting, a slot free, the rate allowing).
local function group_runnable(ctx, s, c)
  return s.w > 0 and (c.conc == 0 or s.r < c.conc) and s.tat - c.tau <= ctx.now
end

-- Where the group belongs now, and its score there: 'x' (idle: forgotten),
-- 't' (turn), 'w' (wait, by when its next start is allowed), 'i' (idle with
-- its rate state in use, by when it is spent) or '-' (its slots are full: a
-- finishing job places it again).
local function group_target(ctx, s, c)
  if c.simple and s.tat <= ctx.now then
    if s.w <= 0 and s.r <= 0 then return 'x', 0 end
    return '-', 0 -- its next job is in the ready list (or running), the rest wait in group_queue
  end
  if s.w <= 0 and s.r <= 0 then
    if s.tat <= ctx.now then return 'x', 0 end
    return 'i', s.tat
  end
  if group_runnable(ctx, s, c) then return 't', 0 end
  if s.w > 0 and (c.conc == 0 or s.r < c.conc) then return 'w', s.tat - c.tau end
  return '-', 0
end

local function push2(t, a, b) t[#t + 1] = a; t[#t + 1] = b end

-- Writes every group the call touched, each key in one command; returns true
-- when a group joined group_turn (a job may start because of it) or began
-- to wait in group_wait (a worker must arm its due timer for it): worth a wake-up.
local function groups_flush(ctx)
  local rq = ctx.rq
  local hset, hdel = {}, {}
  local add = { t = {}, w = {}, i = {} }
  local rem = { t = {}, w = {}, i = {} }
  local joined = false
  if #ctx.gq_add > 0 then
    redis.call('ZADD', rq.group_queue, unpack(ctx.gq_add))
    ctx.gq_add = {}
  end
  for _, g in ipairs(ctx.order) do
    local s = ctx.st[g]
    local c = group_limits(ctx, g)
    if c.simple and s.tat <= ctx.now and s.r <= 0 and s.w > 0 then
      -- the fast path: the group's slot is free, its next job joins the ready list
      local from = s.last and ('(' .. s.last) or ('[' .. g .. '\0')
      local m = redis.call('ZRANGEBYLEX', rq.group_queue, from, '(' .. g .. '\1', 'LIMIT', 0, 1)[1]
      if m then
        ctx.gq_rem[#ctx.gq_rem + 1] = m
        s.w, s.r = s.w - 1, 1
        s.head = string.sub(m, #g + SEQ_LEN + 3)
        ctx.advanced[#ctx.advanced + 1] = s.head
        joined = true
      else
        s.w = 0
      end
    end
    local to, sc = group_target(ctx, s, c)
    if to == 't' and s.popped then
      push2(add.t, score(s.next_at or s.turn_at), g) -- read off group_turn: back at its next turn (or the one it had)
    elseif to == 't' and s.at ~= 't' then
      push2(add.t, score(ctx.vt + 1 / c.weight), g)
      joined = true
    elseif (to == 'w' or to == 'i') then
      push2(add[to], score(sc), g)
      -- newly waiting for its rate or a back-off: a worker must learn when (its due timer)
      if to == 'w' and s.at ~= 'w' then joined = true end
    end
    -- read off group_turn this call (s.popped): in none of the sets now
    local was = s.popped and '-' or s.at
    if was ~= to and rem[was] then rem[was][#rem[was] + 1] = g end
    if to == 'x' then
      hdel[#hdel + 1] = g
    else
      push2(hset, g, num(s.w) .. ',' .. num(s.r) .. ',' .. (s.tat == 0 and '0' or score(s.tat)) .. ',' .. to .. ',' .. s.head)
    end
  end
  if #ctx.gq_rem > 0 then redis.call('ZREM', rq.group_queue, unpack(ctx.gq_rem)) end
  if #ctx.gof > 0 then redis.call('HSET', rq.group_of, unpack(ctx.gof)) end
  if #hset > 0 then redis.call('HSET', rq.groups, unpack(hset)) end
  if #hdel > 0 then redis.call('HDEL', rq.groups, unpack(hdel)) end
  for k, key in pairs({ t = rq.group_turn, w = rq.group_wait, i = rq.group_idle }) do
    if #rem[k] > 0 then redis.call('ZREM', key, unpack(rem[k])) end
    if #add[k] > 0 then redis.call('ZADD', key, unpack(add[k])) end
  end
  if ctx.vt ~= ctx.vt0 then redis.call('HSET', rq.meta, 'group_vt', score(ctx.vt)) end
  ctx.vt0 = ctx.vt
  ctx.st, ctx.order, ctx.gq_add, ctx.gq_rem, ctx.gof, ctx.window = {}, {}, {}, {}, {}, nil
  return joined
end

-- group_of values of `ids` (false for ungrouped ones), or nil when no job has a group.
local function groups_lookup(rq, ids)
  if #ids == 0 or redis.call('HLEN', rq.group_of) == 0 then return nil end
  return redis.call('HMGET', rq.group_of, unpack(ids))
end

-- A grouped job becomes ready: it takes its place in its group (by its seq);
-- a held one gives its slot back, as it now waits like the others.
-- Returns true when the job goes straight to the ready list instead (a
-- group on the fast path whose slot is free, or the job holds it): the
-- caller pushes it there.
local function group_enter(ctx, id, v)
  local seq, held, g = group_parse(v)
  local s, c = group_state(ctx, g), group_limits(ctx, g)
  if c.simple and s.tat <= ctx.now and (held or (s.r <= 0 and s.w <= 0)) then
    if held then push2(ctx.gof, id, seq .. '0' .. g) else s.r = s.r + 1 end
    s.head = id -- in the ready list, holding the slot (reported as waiting until it is leased)
    return true
  end
  push2(ctx.gq_add, 0, g .. '\0' .. seq .. '\0' .. id)
  s.w = s.w + 1
  if held then
    s.r = s.r - 1
    push2(ctx.gof, id, seq .. '0' .. g)
  end
  return false
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
local function group_stop(ctx, id, v, hold, back)
  local seq, held, g = group_parse(v)
  -- on the fast path a job given back keeps its group's slot: it goes back to the ready list ahead of the rest
  if back and not hold then
    local c = group_limits(ctx, g)
    hold = c.simple and group_state(ctx, g).tat <= ctx.now
  end
  local s = group_state(ctx, g)
  if s.head == id then s.head = '' end -- held for a retry or given back: counted as running until it is in the ready list again
  if hold then
    if not held then push2(ctx.gof, id, seq .. '1' .. g) end
    return
  end
  s.r = s.r - 1
  if held then push2(ctx.gof, id, seq .. '0' .. g) end
end

-- Groups whose wait is over (a rate limit or back-off ended) are placed
-- again, and idle ones whose rate state is spent forgotten: written at once,
-- so the turns below see them. Returns when the next wait is over (0 = none).
local function groups_due(ctx)
  local due = redis.call('ZRANGEBYSCORE', ctx.rq.group_wait, '-inf', ctx.now, 'LIMIT', 0, 1000)
  for _, g in ipairs(redis.call('ZRANGEBYSCORE', ctx.rq.group_idle, '-inf', ctx.now, 'LIMIT', 0, 100)) do
    due[#due + 1] = g
  end
  if #due > 0 then
    groups_fetch(ctx, due)
    groups_flush(ctx)
  end
  local nxt = redis.call('ZRANGE', ctx.rq.group_wait, 0, 0, 'WITHSCORES')
  return tonumber(nxt[2]) or 0
end

-- The turns of this call: the first entries of group_turn, read once
-- (with their states) and taken in Lua; a group taken and still ready goes
-- back among them at its next turn.
local function groups_window(ctx, want)
  local got = redis.call('ZPOPMIN', ctx.rq.group_turn, want)
  -- the turns as two arrays (group, score), walked by index
  local w, gs, at = { all = #got < 2 * want, i = 1 }, {}, {}
  for i = 1, #got, 2 do
    gs[#gs + 1] = got[i]
    at[#at + 1] = tonumber(got[i + 1])
  end
  w.g, w.at = gs, at
  groups_fetch(ctx, gs)
  for i, g in ipairs(gs) do ctx.st[g].turn_at = at[i] end
  -- out of group_turn now: each is written back where it belongs by groups_flush
  for _, g in ipairs(gs) do ctx.st[g].popped = true end
  ctx.window = w
  return w
end

-- The group first in turn and its score (nil when none), among `want` at most.
local function groups_head(ctx, want)
  local w = ctx.window
  if w and w.i > #w.g and not w.all then
    groups_flush(ctx) -- the taken ones go back to group_turn before it is read again
    w = nil
  end
  w = w or groups_window(ctx, math.max(1, want))
  local i = w.i
  if i > #w.g then return nil end
  return w.g[i], w.at[i]
end

-- Takes the first job of the group first in turn (its score `at`); nil when
-- none (its state was off: repaired when written).
local function group_take(ctx, g, at)
  local w = ctx.window
  w.i = w.i + 1
  local s, c = group_state(ctx, g), group_limits(ctx, g)
  s.next_at = nil
  if not group_runnable(ctx, s, c) then return nil end -- groups_flush puts it where it belongs
  local from = s.last and ('(' .. s.last) or ('[' .. g .. '\0')
  local m = redis.call('ZRANGEBYLEX', ctx.rq.group_queue, from, '(' .. g .. '\1', 'LIMIT', 0, 1)[1]
  if not m then
    s.w = 0
    return nil
  end
  s.last = m
  ctx.gq_rem[#ctx.gq_rem + 1] = m
  s.w, s.r = s.w - 1, s.r + 1
  if c.e > 0 then s.tat = math.max(s.tat, ctx.now) + c.e end
  ctx.vt = at
  if group_runnable(ctx, s, c) then
    local nxt = at + 1 / c.weight
    s.next_at = nxt
    -- back among the turns read, unless it falls past them (then it waits in group_turn)
    local n = #w.g
    if w.all or (n > 0 and nxt <= w.at[n]) then
      local pos = n + 1
      for i = w.i, n do
        if nxt < w.at[i] then
          pos = i
          break
        end
      end
      table.insert(w.g, pos, g)
      table.insert(w.at, pos, nxt)
    end
  end
  return string.sub(m, #g + SEQ_LEN + 3)
end

-- A back-off for the group: no job of it starts before `until_ms`.
local function group_hold_until(ctx, g, until_ms)
  local s, c = group_state(ctx, g), group_limits(ctx, g)
  s.tat = math.max(s.tat, until_ms + c.tau)
end
