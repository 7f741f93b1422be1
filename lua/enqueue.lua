-- enqueue: add one or more jobs atomically (add, addBulk and same-tick adds
-- batched by the client all arrive here as one call).
--
-- KEYS[1]  jobs        hash    job id -> record
-- KEYS[2]  ready       list    jobs due now without a priority are appended here
-- KEYS[3]  prio        zset    jobs due now with a priority
-- KEYS[4]  priorities  hash    job id -> priority, for jobs with one
-- KEYS[5]  delayed     zset    jobs with a delay, scored by run-at ms
-- KEYS[6]  meta        hash    policy: max_waiting, aging_ms
-- KEYS[7]  ids         string  counter for generated ids (clients reserve blocks of it)
-- KEYS[8]  wake        list    wake token for idle workers
-- KEYS[9]  dedup       hash    dedup key -> id of the job holding it
-- KEYS[10] dedup_exp   zset    dedup keys with a window, scored by its end ms
--
-- ARGV[1] all_or_nothing  bool  1 = if max_waiting refuses one job, refuse all (addBulk)
-- ARGV[2] reserve         int   jobs of the same addBulk still to come in later calls (they need room too)
-- ARGV[3..] jobs  {id: string, gen: bool, delay: int, opts: string, record: bytes}
--   id: the job id; gen: an id the client took from a block it reserved on `ids`
--   (see IdBlocks), not the caller's own; delay: ms from now until it may run;
--   opts: '' for a job without priority or dedup (most jobs: one short argument),
--   else "<priority>:<dedup_mode>:<dedup_ms>:<dedup key>" (mode 0 none, 1 until
--   the job completes, 2 a window from the first add, 3 debounce; dedup_ms the
--   window, 0 = none for mode 1)
--
-- Reply: enqueue
-- Returns a flat array {id1, code1, id2, code2, ...} in input order:
--   OK; DUPLICATE: a caller's own id that exists already (changes nothing:
--   adds with ids are idempotent); DEDUPLICATED: a live job holds the dedup
--   key, its id is returned (debounce: its record is replaced and its run-at
--   pushed to now + dedup_ms); QUEUE_FULL: max_waiting reached, nothing
--   written for it. A generated id that exists with the same record is this
--   very add sent twice (a client resends a command whose reply was lost in a
--   reconnect): OK, nothing changes. A generated id that exists with another
--   record (the counter went back) gets a fresh id from `ids`: OK.
--!include codes
--!include now
--!include policy
--!include ready
--!include wake
--!include dedup

local n = A.jobs_n
local idlist = {}
for i = 1, n do idlist[i] = jobs(i) end
local existing = redis.call('HMGET', K.jobs, unpack(idlist))
local pol = read_policy(K.meta)
local now = now_ms(true)
local nowi = math.floor(now)
local d = { dedup = K.dedup, dedup_exp = K.dedup_exp }
local rq = ready_keys(K.ready, K.prio, K.priorities, K.meta)

-- first pass: what each job becomes, without writing
local plan, seen, held, fresh = {}, {}, {}, 0
for i = 1, n do
  local id, gen, delay, opts, rec = jobs(i)
  local priority, dmode, dms, dkey = 0, 0, 0, ''
  if opts ~= '' then
    local p, m, w, k = string.match(opts, '^(-?%d+):(%d):(%d+):(.*)$')
    priority, dmode, dms, dkey = tonumber(p), tonumber(m), tonumber(w), k
  end
  -- debounce: a job runs dedup_ms after the last add
  if dkey ~= '' and dmode == 3 then delay = math.max(delay, dms) end
  local p = { id = id, code = CODE.OK, add = true, delay = delay, priority = priority, dkey = dkey, dmode = dmode, dms = dms, rec = rec }
  local old = existing[i] or seen[id]
  if old then
    p.add = false
    if not gen then
      p.code = CODE.DUPLICATE
    elseif old ~= rec then
      p.id = string.format('%d', redis.call('INCR', K.ids))
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
          live = redis.call('ZSCORE', K.delayed, holder) ~= false
          p.debounce = live
        else
          live = dedup_window(d, dkey) or redis.call('HEXISTS', K.jobs, holder) == 1
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
  local room = pol.max_waiting - ready_len(rq) - redis.call('ZCARD', K.delayed)
  local all = A.all_or_nothing and fresh + A.reserve > room
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
local woke = false
for i = 1, n do
  local p = plan[i]
  if p.add then
    records[#records + 1] = p.id; records[#records + 1] = p.rec
    if p.priority ~= 0 then priorities[#priorities + 1] = p.id; priorities[#priorities + 1] = p.priority end
    if p.delay > 0 then
      delayed[#delayed + 1] = nowi + p.delay; delayed[#delayed + 1] = p.id
    else
      ready[#ready + 1] = p.id; prios[#prios + 1] = p.priority
    end
    if p.dkey ~= '' then
      local ends = 0
      if p.dmode ~= 1 or p.dms > 0 then ends = nowi + p.dms end
      dedup_hold(d, p.dkey, p.id, ends)
    end
  elseif p.debounce then
    redis.call('HSET', K.jobs, p.id, p.rec)
    redis.call('ZADD', K.delayed, nowi + p.delay, p.id)
    dedup_hold(d, p.dkey, p.id, nowi + p.dms)
    woke = true
  end
  out[#out + 1] = p.id; out[#out + 1] = p.code
end

if #records > 0 then
  keep_hashtable(K.jobs)
  redis.call('HSET', K.jobs, unpack(records))
  if #priorities > 0 then redis.call('HSET', K.priorities, unpack(priorities)) end
end
ready_push(rq, ready, prios, now, pol.aging_ms)
if #delayed > 0 then redis.call('ZADD', K.delayed, unpack(delayed)) end
-- A delayed job also wakes one worker, so that it shortens its blocking timeout.
if #ready > 0 or #delayed > 0 or woke then wake(K.wake) end
if next(held) then dedup_sweep(d, nowi) end
return out
