-- replay: move dead-lettered jobs back to ready with their attempts reset (and
-- their error history and progress cleared), at their priority, for an operator once the
-- cause is fixed.
--
-- KEYS[1] dead        zset
-- KEYS[2] runs        hash
-- KEYS[3] errors      hash
-- KEYS[4] ready       list
-- KEYS[5] prio        zset
-- KEYS[6] priorities  hash
-- KEYS[7] meta        hash
-- KEYS[8] wake        list
-- KEYS[9] jobs        hash
-- KEYS[10] events     stream `replayed`
-- KEYS[11] progress   hash   a replayed job starts with no progress, as with no errors
-- KEYS[12] metrics     hash   counters of events by kind (includes/events.lua)
--
-- ARGV[1..] ids  {id: string}  at most ~1000 per call (the client pages)
--
-- Reply: codes
-- Returns {code1, ...}: OK, NOT_DEAD (exists but not dead) or NOT_FOUND.
--!include codes
--!include now
--!include policy
--!include ready
--!include wake
--!include events

local codes, back = {}, {}
local pol = read_policy(K.meta)
local ev = events_new(K.events, pol.events_max, K.metrics)
for i = 1, A.ids_n do
  local id = ids(i)
  if redis.call('ZREM', K.dead, id) == 1 then
    redis.call('HDEL', K.runs, id)
    redis.call('HDEL', K.errors, id)
    redis.call('HDEL', K.progress, id)
    back[#back + 1] = id
    event(ev, 'replayed', id, 0)
    codes[i] = CODE.OK
  elseif redis.call('HEXISTS', K.jobs, id) == 1 then
    codes[i] = CODE.NOT_DEAD
  else
    codes[i] = CODE.NOT_FOUND
  end
end
if #back > 0 then
  ready_push(ready_keys(K.ready, K.prio, K.priorities, K.meta), back, nil, now_ms(true), pol.aging_ms)
  wake(K.wake)
end
events_flush(ev)
return codes
