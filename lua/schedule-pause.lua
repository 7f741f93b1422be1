-- schedule-pause: pause or resume one schedule. A paused schedule fires
-- nothing from the moment this call returns (a firer that read it before is
-- refused: its revision is gone). Resuming fires from the caller's `next_ms`
-- (the first occurrence after now): occurrences while paused are not runs
-- missed, they are not run at all. Resuming a schedule that is not paused
-- changes nothing.
--
-- KEYS[1] schedule_state  hash
-- KEYS[2] schedule_next   zset
-- KEYS[3] wake            list
-- KEYS[4] schedule_wake   list
--
-- ARGV[1] id       string
-- ARGV[2] paused   bool    1 = pause, 0 = resume
-- ARGV[3] rev      int     resume: the revision `next_ms` was computed for
-- ARGV[4] next_ms  int     resume: the first occurrence after now (0 = none: it ends)
--
-- Reply: code
-- Returns OK, NOT_FOUND (no such schedule) or STALE (resume: the schedule
-- changed since the caller read it; read it again).
--!include codes
--!include now
--!include wake
--!include schedule

local st = schedule_get(K.schedule_state, A.id)
if not st then return CODE.NOT_FOUND end
if A.paused then
  if st.paused == 0 then
    st.paused = 1
    st.rev = st.rev + 1
    st.updated_at = now_ms(false)
    redis.call('ZREM', K.schedule_next, A.id)
    schedule_put(K.schedule_state, A.id, st)
  end
  return CODE.OK
end
if st.paused == 0 then return CODE.OK end
if st.rev ~= A.rev then return CODE.STALE end
st.paused = 0
st.rev = st.rev + 1
st.updated_at = now_ms(false)
if st.ended == 0 and A.next_ms > 0 then
  redis.call('ZADD', K.schedule_next, A.next_ms, A.id)
  wake(K.wake)
  wake(K.schedule_wake)
else
  st.ended = 1
end
schedule_put(K.schedule_state, A.id, st)
return CODE.OK
