-- The queue's events stream. A script collects its job events while it runs
-- (`event`) and writes them at its end (`events_flush`): one stream entry per
-- kind of event, holding every job that had it in this call, in order, so a
-- batch of 50 acks costs one XADD, not 50. An entry's fields: `e` (the
-- event), `j` (the job ids, separated by "\n": ids have no control
-- characters) and `a` (their attempts, separated by ","; the run each
-- concerns, 0 before the first). Kinds are written in the order they first
-- occurred, so each job's own events keep their order. The entry id carries
-- Redis's time. The stream is trimmed to about the policy's events_max
-- entries (MAXLEN ~, which trims whole radix-tree nodes: cheap); events_max
-- 0 writes no entries.
--
-- The same flush counts every kind in the queue's `metrics` hash (HINCRBY
-- <kind> n: one command per kind per call, events on or off), so the
-- counters of all processes add up exactly, in the call that made the change.

local function events_new(key, max, metrics)
  return { key = key, max = max, metrics = metrics, order = {}, by = {} }
end

-- `attempt` may be a number or its decimal string (a string costs no conversion at the flush).
-- Each kind counts its own entries: `#t` is a search in Lua 5.1, paid per job.
local function event(ev, kind, id, attempt)
  local b = ev.by[kind]
  if not b then
    b = { ids = {}, att = {}, n = 0 }
    ev.by[kind] = b
    ev.order[#ev.order + 1] = kind
  end
  local n = b.n + 1
  b.n = n
  b.ids[n] = id
  b.att[n] = attempt
end

local function events_flush(ev)
  for _, kind in ipairs(ev.order) do
    local b = ev.by[kind]
    if ev.max > 0 then
      redis.call('XADD', ev.key, 'MAXLEN', '~', ev.max, '*', 'e', kind, 'j', table.concat(b.ids, '\n'), 'a', table.concat(b.att, ','))
    end
    redis.call('HINCRBY', ev.metrics, kind, b.n)
  end
  ev.order, ev.by = {}, {}
end
