-- Leases up to n ready jobs until now + lease_ms. `k` is { leased, runs, jobs,
-- delayed, wake, fence, schedule_next }, `rq` the ready structure
-- (ready_keys, with the policy), `ev` the call's events (`started` per job leased).
-- With `announce`, leasing into an empty `leased` set also leaves a wake
-- token: an idle worker wakes, learns the new lease deadline and arms a timer
-- for it, so an expired lease is reclaimed on time even when every other
-- worker is idle. Returns a flat array {next_in_ms, keep_results,
-- schedule_in_ms, now, id1, token1, attempt1, record1, runnable1, id2, ...};
-- runnable is when the job became runnable (ms; 0 when it went straight to
-- ready at its add: the record's created-at tells then); a token is the
-- "<attempt>:<fence>:<nonce>" string stored in `runs`. next_in_ms is -1 when
-- the batch was full (more may be ready), else the time until the next delayed
-- job is due, lease expires, or the queue's or a group's limit lets a job
-- start (0 = none). When the queue's own limit held jobs back, `meta`'s
-- limited_until says until when: adds need not wake anyone before then. keep_results is 1 when the policy
-- keeps completed jobs (so the worker sends results with its acks).
-- schedule_in_ms is the time until the next schedule occurrence (0 = due now,
-- -1 = no schedule): the worker arms a timer and fires it (schedule-due,
-- schedule-fire) whether or not it has free slots.
--!include ready
--!include wake
--!include events

local function lease_batch(k, rq, ev, n, lease_ms, announce, nonce)
  local pol, now = rq.pol, math.floor(rq.now)
  local out = { -1, pol.keep_count > 0 and 1 or 0, -1, now }
  local sched = redis.call('ZRANGE', k.schedule_next, 0, 0, 'WITHSCORES')
  if sched[2] then out[3] = math.max(0, tonumber(sched[2]) - now) end
  local ids, limit_at = {}, 0
  if n > 0 and not pol.paused then ids, limit_at = ready_pop(rq, n, k.leased) end
  if rq.limited_at and rq.limited_at ~= pol.limited_until then
    redis.call('HSET', rq.meta, 'limited_until', score(rq.limited_at))
  end
  if #ids > 0 then
    local recs = redis.call('HMGET', k.jobs, unpack(ids))
    local runs = redis.call('HMGET', k.runs, unpack(ids))
    local first = redis.call('INCRBY', k.fence, #ids) - #ids
    -- formatted once: a number argument would be formatted again for every job's ZADD pair
    local deadline = string.format('%d', now + lease_ms)
    -- counted by hand, not with `#t` (a search in Lua 5.1): this loop runs per job
    local zargs, rargs, z, o = {}, {}, 0, #out
    for i = 1, #ids do
      local id, run = ids[i], runs[i]
      if recs[i] then -- a record removed by the user leaves a stale id: skip it
        -- a job's first run (the usual case) needs no parse and no number formatting
        local attempt, as = 1, '1'
        if run then
          attempt = run_attempts(run) + 1
          as = tostring(attempt)
        end
        local token = as .. ':' .. string.format('%d', first + i) .. ':' .. nonce
        zargs[z + 1] = deadline; zargs[z + 2] = id
        rargs[z + 1] = id; rargs[z + 2] = token
        z = z + 2
        out[o + 1] = id; out[o + 2] = token; out[o + 3] = attempt; out[o + 4] = recs[i]
        out[o + 5] = run and tonumber(string.match(run, '@(%d+)$')) or 0
        o = o + 5
        event(ev, 'started', id, as)
      end
    end
    if z > 0 then
      if announce and redis.call('ZCOUNT', k.leased, '-inf', '(inf') == 0 then wake(k.wake) end
      -- the sentinels (includes/runs.lua) ride along: written again as they are, one command each instead of two
      zargs[z + 1] = 'inf'; zargs[z + 2] = SENTINEL
      rargs[z + 1] = SENTINEL; rargs[z + 2] = '1'
      redis.call('ZADD', k.leased, unpack(zargs))
      redis.call('HSET', k.runs, unpack(rargs))
    end
  end
  if n > 0 and #ids == n then
    -- a full batch: maybe more is ready, so pass the wake-up on to another idle worker
    if ready_more(rq) then wake(k.wake) end
  else
    local next_at = limit_at
    local dl = redis.call('ZRANGE', k.delayed, 0, 0, 'WITHSCORES')
    if dl[2] and (next_at == 0 or tonumber(dl[2]) < next_at) then next_at = tonumber(dl[2]) end
    local l = redis.call('ZRANGEBYSCORE', k.leased, '-inf', '(inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if l[2] and (next_at == 0 or tonumber(l[2]) < next_at) then next_at = tonumber(l[2]) end
    if next_at > 0 then out[1] = math.max(1, math.ceil(next_at - now)) else out[1] = 0 end
  end
  return out
end
