-- The dead-letter queue: `dead` holds the ids of jobs that ran out of
-- attempts, scored by their time of death (ms). An operator's replay or purge
-- names a job, and may also name the death it saw (the score as ZRANGE ...
-- WITHSCORES gave it): a job replayed and dead again since is then left as it
-- is (STALE), so that an action decided on one death (its error matched a
-- filter) is never applied to a later one.
--!include codes
--!include now
--!include ready
--!include wake
--!include events

-- Takes `id` out of `dead` when it is there in the death `died` ('' = any).
-- Returns OK (taken), STALE (dead, in another death), NOT_DEAD or NOT_FOUND.
local function dead_take(dead_key, jobs_key, id, died)
  local score = redis.call('ZSCORE', dead_key, id)
  if not score then
    if redis.call('HEXISTS', jobs_key, id) == 1 then return CODE.NOT_DEAD end
    return CODE.NOT_FOUND
  end
  if died ~= '' and tonumber(score) ~= tonumber(died) then return CODE.STALE end
  redis.call('ZREM', dead_key, id)
  return CODE.OK
end

-- Sends jobs taken out of `dead` back to run: attempts, error history and
-- progress cleared, to the back of ready at their priority, one worker woken,
-- a `replayed` event each (a grouped job at its place in its group, by the
-- order it was added). `k` is { runs, errors, progress, wake } and the keys of
-- ready_keys; `pol` the policy.
local function dead_replay(k, ids, ev, pol)
  if #ids == 0 then return end
  for _, id in ipairs(ids) do
    redis.call('HDEL', k.runs, id)
    redis.call('HDEL', k.errors, id)
    redis.call('HDEL', k.progress, id)
    event(ev, 'replayed', id, 0)
  end
  ready_push(ready_keys(k, pol, now_ms(true)), ids, nil, nil)
  wake(k.wake)
end
