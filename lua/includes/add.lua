-- Adds jobs: the one place that decides what an added job becomes (enqueue
-- for add and addBulk, schedule-fire for the jobs of schedule occurrences).
-- `k` is { jobs, ready, prio, priorities, delayed, meta, ids, wake, dedup,
-- dedup_exp, events, metrics } and the group keys of ready_keys (key names);
-- every job added emits `added`; `get(i)` returns the i-th job of `n` as id,
-- gen, delay, opts, record (see enqueue.lua's header for each).
-- Returns a flat array {id1, code1, id2, code2, ...} in input order.
--!include codes
--!include now
--!include policy
--!include ready
--!include wake
--!include dedup
--!include events

-- How many more jobs the queue of `k` takes before its max_waiting refuses
-- one (math.huge without a limit): for callers that must know before adding
-- to several queues that all of them have room.
local function add_room(k)
  local pol = read_policy(k.meta)
  if pol.max_waiting == 0 then return math.huge end
  return pol.max_waiting - ready_len(ready_keys(k, pol, 0)) - redis.call('ZCARD', k.delayed)
end

local function add_jobs(k, n, get, all_or_nothing, reserve)
  local idlist = {}
  for i = 1, n do idlist[i] = get(i) end
  local existing = n > 0 and redis.call('HMGET', k.jobs, unpack(idlist)) or {}
  local pol = read_policy(k.meta)
  local now = now_ms(true)
  local nowi = math.floor(now)
  local d = { dedup = k.dedup, dedup_exp = k.dedup_exp }
  local rq = ready_keys(k, pol, now)
  local ev = events_new(k.events, pol.events_max, k.metrics)

  -- first pass: what each job becomes, without writing
  local plan, seen, held, fresh = {}, {}, {}, 0
  for i = 1, n do
    local id, gen, delay, opts, rec = get(i)
    local priority, dmode, dms, dkey, group = 0, 0, 0, '', ''
    if opts ~= '' then
      local p, m, w, glen, rest = string.match(opts, '^(-?%d+):(%d):(%d+):(%d+):(.*)$')
      priority, dmode, dms = tonumber(p), tonumber(m), tonumber(w)
      group, dkey = string.sub(rest, 1, tonumber(glen)), string.sub(rest, tonumber(glen) + 1)
    end
    -- debounce: a job runs dedup_ms after the last add
    if dkey ~= '' and dmode == 3 then delay = math.max(delay, dms) end
    local p = { id = id, code = CODE.OK, add = true, delay = delay, priority = priority, dkey = dkey, dmode = dmode, dms = dms, rec = rec, group = group }
    local old = existing[i] or seen[id]
    if old then
      p.add = false
      if not gen then
        p.code = CODE.DUPLICATE
      elseif old ~= rec then
        p.id = string.format('%d', redis.call('INCR', k.ids))
        p.add = true
      end
    end
    if p.add and dkey ~= '' then
      local first = held[dkey] -- an earlier job of this call with the same key
      if first then
        p.add, p.code, p.id = false, CODE.DEDUPLICATED, plan[first].id
        if dmode == 3 then plan[first].rec = rec end -- debounce: the last add's data wins
      else
        local holder = dedup_holder(d, dkey, nowi)
        if holder then
          local live
          if dmode == 3 then
            -- debounce holds only while the holder still waits for its run-at; once it is due
            -- or running, this add makes a new job (never dropped)
            live = redis.call('ZSCORE', k.delayed, holder) ~= false
            p.debounce = live
          else
            live = dedup_window(d, dkey) or redis.call('HEXISTS', k.jobs, holder) == 1
          end
          if live then p.add, p.code, p.id = false, CODE.DEDUPLICATED, holder end
        end
        if p.add then held[dkey] = i end
      end
    end
    if p.add then
      seen[p.id] = rec
      fresh = fresh + 1
    end
    plan[i] = p
  end

  -- backpressure: a full queue refuses jobs (all of them for addBulk) before anything is written
  if pol.max_waiting > 0 and fresh > 0 then
    local room = pol.max_waiting - ready_len(rq) - redis.call('ZCARD', k.delayed)
    local all = all_or_nothing and fresh + reserve > room
    for i = 1, n do
      local p = plan[i]
      if all then p.debounce = false end
      if p.add then
        if room > 0 and not all then room = room - 1 else p.add, p.code = false, CODE.QUEUE_FULL end
      end
    end
  end

  -- second pass: write
  local out, records, ready, prios, delayed, priorities = {}, {}, {}, {}, {}, {}
  local grouped, gvals = {}, {}
  local woke = false
  for i = 1, n do
    local p = plan[i]
    if p.add then
      event(ev, 'added', p.id, 0)
      records[#records + 1] = p.id; records[#records + 1] = p.rec
      if p.priority ~= 0 then priorities[#priorities + 1] = p.id; priorities[#priorities + 1] = p.priority end
      if p.group ~= '' then grouped[#grouped + 1] = p end
      if p.delay > 0 then
        delayed[#delayed + 1] = nowi + p.delay; delayed[#delayed + 1] = p.id
      else
        ready[#ready + 1] = p.id; prios[#prios + 1] = p.priority; gvals[#ready] = p.group ~= '' and p or false
      end
      if p.dkey ~= '' then
        local ends = 0
        if p.dmode ~= 1 or p.dms > 0 then ends = nowi + p.dms end
        dedup_hold(d, p.dkey, p.id, ends)
      end
    elseif p.debounce then
      redis.call('HSET', k.jobs, p.id, p.rec)
      redis.call('ZADD', k.delayed, nowi + p.delay, p.id)
      dedup_hold(d, p.dkey, p.id, nowi + p.dms)
      woke = true
    end
    out[#out + 1] = p.id; out[#out + 1] = p.code
  end

  if #records > 0 then
    -- the sentinel (includes/runs.lua) rides along, written again as it is
    records[#records + 1] = SENTINEL; records[#records + 1] = '1'
    redis.call('HSET', k.jobs, unpack(records))
    if #priorities > 0 then redis.call('HSET', k.priorities, unpack(priorities)) end
  end
  -- grouped jobs take their seq (their order in the group) in add order
  ready_assign(rq, grouped)
  for i = 1, #ready do if gvals[i] then gvals[i] = gvals[i].gval end end
  -- none of the jobs added without a group has one: no group_of lookup (one command fewer per add)
  local runnable = ready_push(rq, ready, prios, #grouped > 0 and gvals or false)
  if #delayed > 0 then redis.call('ZADD', k.delayed, unpack(delayed)) end
  -- A delayed job also wakes one worker, so that it shortens its blocking
  -- timeout; while the queue's limits hold jobs back, no one need wake.
  if (runnable or #delayed > 0 or woke) and pol.limited_until <= now then wake(k.wake) end
  if next(held) then dedup_sweep(d, nowi) end
  events_flush(ev)
  return out
end
