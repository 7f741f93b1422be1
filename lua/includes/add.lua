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

  -- first pass: what each job becomes, without writing. Per job, in arrays side by side (a table
  -- per job cost about as much as the job's own writes): the id it gets, its code, whether it is
  -- added, its delay, priority, dedup key, mode and window, record, group, and whether it
  -- replaces a debounced job's data
  local P_id, P_code, P_add, P_delay, P_prio, P_dkey, P_dmode, P_dms, P_rec, P_group, P_deb =
    {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}
  local seen, held, fresh = {}, {}, 0
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
    local code, add, deb = CODE.OK, true, false
    local old = existing[i] or seen[id]
    if old then
      add = false
      if not gen then
        code = CODE.DUPLICATE
      elseif old ~= rec then
        id = string.format('%d', redis.call('INCR', k.ids))
        add = true
      end
    end
    if add and dkey ~= '' then
      local first = held[dkey] -- an earlier job of this call with the same key
      if first then
        add, code, id = false, CODE.DEDUPLICATED, P_id[first]
        if dmode == 3 then P_rec[first] = rec end -- debounce: the last add's data wins
      else
        local holder = dedup_holder(d, dkey, nowi)
        if holder then
          local live
          if dmode == 3 then
            -- debounce holds only while the holder still waits for its run-at; once it is due
            -- or running, this add makes a new job (never dropped)
            live = redis.call('ZSCORE', k.delayed, holder) ~= false
            deb = live
          else
            live = dedup_window(d, dkey) or redis.call('HEXISTS', k.jobs, holder) == 1
          end
          if live then add, code, id = false, CODE.DEDUPLICATED, holder end
        end
        if add then held[dkey] = i end
      end
    end
    if add then
      seen[id] = rec
      fresh = fresh + 1
    end
    P_id[i], P_code[i], P_add[i], P_delay[i], P_prio[i] = id, code, add, delay, priority
    P_dkey[i], P_dmode[i], P_dms[i], P_rec[i], P_group[i], P_deb[i] = dkey, dmode, dms, rec, group, deb
  end

  -- backpressure: a full queue refuses jobs (all of them for addBulk) before anything is written
  if pol.max_waiting > 0 and fresh > 0 then
    local room = pol.max_waiting - ready_len(rq) - redis.call('ZCARD', k.delayed)
    local all = all_or_nothing and fresh + reserve > room
    for i = 1, n do
      if all then P_deb[i] = false end
      if P_add[i] then
        if room > 0 and not all then room = room - 1 else P_add[i], P_code[i] = false, CODE.QUEUE_FULL end
      end
    end
  end

  -- second pass: write
  local out, records, ready, prios, delayed, priorities = {}, {}, {}, {}, {}, {}
  local nrec, nready, ndelayed, nprio = 0, 0, 0, 0
  local grouped, gvals = {}, {}
  local woke = false
  for i = 1, n do
    local id = P_id[i]
    if P_add[i] then
      event(ev, 'added', id, '0')
      records[nrec + 1] = id; records[nrec + 2] = P_rec[i]; nrec = nrec + 2
      local priority, group, delay, dkey = P_prio[i], P_group[i], P_delay[i], P_dkey[i]
      if priority ~= 0 then priorities[nprio + 1] = id; priorities[nprio + 2] = priority; nprio = nprio + 2 end
      local g = false
      if group ~= '' then
        g = { id = id, group = group }
        grouped[#grouped + 1] = g
      end
      if delay > 0 then
        delayed[ndelayed + 1] = nowi + delay; delayed[ndelayed + 2] = id; ndelayed = ndelayed + 2
      else
        nready = nready + 1
        ready[nready] = id; prios[nready] = priority; gvals[nready] = g
      end
      if dkey ~= '' then
        local ends = 0
        if P_dmode[i] ~= 1 or P_dms[i] > 0 then ends = nowi + P_dms[i] end
        dedup_hold(d, dkey, id, ends)
      end
    elseif P_deb[i] then
      redis.call('HSET', k.jobs, id, P_rec[i])
      redis.call('ZADD', k.delayed, nowi + P_delay[i], id)
      dedup_hold(d, P_dkey[i], id, nowi + P_dms[i])
      woke = true
    end
    out[2 * i - 1] = id; out[2 * i] = P_code[i]
  end

  if nrec > 0 then
    -- the sentinel (includes/runs.lua) rides along, written again as it is
    records[nrec + 1] = SENTINEL; records[nrec + 2] = '1'
    redis.call('HSET', k.jobs, unpack(records))
    if nprio > 0 then redis.call('HSET', k.priorities, unpack(priorities)) end
  end
  -- grouped jobs take their seq (their order in the group) in add order
  ready_assign(rq, grouped)
  for i = 1, nready do if gvals[i] then gvals[i] = gvals[i].gval end end
  -- none of the jobs added without a group has one: no group_of lookup (one command fewer per add)
  local runnable = ready_push(rq, ready, prios, #grouped > 0 and gvals or false)
  if ndelayed > 0 then redis.call('ZADD', k.delayed, unpack(delayed)) end
  -- A delayed job also wakes one worker, so that it shortens its blocking
  -- timeout; while the queue's limits hold jobs back, no one need wake.
  if (runnable or ndelayed > 0 or woke) and pol.limited_until <= now then wake(k.wake) end
  if next(held) then dedup_sweep(d, nowi) end
  events_flush(ev)
  return out
end
