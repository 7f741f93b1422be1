-- A schedule's state, one msgpack map per schedule in `schedule_state`,
-- written only by the schedule scripts: rev (bumped by every change, so a
-- firer that read an older spec is refused), paused and ended (0/1), count
-- (occurrences fired), last_occ (the last occurrence handled, ms), last_job
-- (the id of its job), fired_at (ms), skipped (occurrences passed over by the
-- missed-run policy), refused (occurrences a full queue refused), timing (the
-- client's fingerprint of the spec's timing fields: a change of timing
-- recomputes the next occurrence, a change of anything else does not),
-- created_at and updated_at (ms). The spec itself is in `schedules`.

local function schedule_get(state_key, id)
  local raw = redis.call('HGET', state_key, id)
  if not raw then return nil end
  local ok, st = pcall(cmsgpack.unpack, raw)
  if ok and type(st) == 'table' then return st end
  return nil
end

local function schedule_put(state_key, id, st)
  redis.call('HSET', state_key, id, cmsgpack.pack(st))
end
