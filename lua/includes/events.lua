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
-- 0 writes nothing.

local function events_new(key, max)
  return { key = key, max = max, order = {}, by = {} }
end

local function event(ev, kind, id, attempt)
  if ev.max == 0 then return end
  local b = ev.by[kind]
  if not b then
    b = { ids = {}, att = {} }
    ev.by[kind] = b
    ev.order[#ev.order + 1] = kind
  end
  b.ids[#b.ids + 1] = id
  b.att[#b.att + 1] = attempt
end

local function events_flush(ev)
  for _, kind in ipairs(ev.order) do
    local b = ev.by[kind]
    redis.call('XADD', ev.key, 'MAXLEN', '~', ev.max, '*', 'e', kind, 'j', table.concat(b.ids, '\n'), 'a', table.concat(b.att, ','))
  end
  ev.order, ev.by = {}, {}
end
