-- schedule-upsert: create or change a schedule. Upserting the spec that is
-- stored already changes nothing, so any number of processes may upsert the
-- same schedule at start-up: they converge on one schedule and fire no extra
-- job. A changed spec takes effect from the next occurrence: when only the
-- data or job options changed, the pending next occurrence stays; when the
-- timing changed (or the schedule had ended), the next occurrence is the
-- caller's `next_ms`, computed from the new timing after Redis's time.
--
-- KEYS[1] schedules       hash  schedule id -> spec
-- KEYS[2] schedule_state  hash  schedule id -> state (includes/schedule.lua)
-- KEYS[3] schedule_next   zset  firing schedules by next occurrence ms
-- KEYS[4] wake            list  workers re-arm their due timer
-- KEYS[5] schedule_wake   list  standalone schedulers re-arm theirs
--
-- ARGV[1] id       string  the schedule's id
-- ARGV[2] spec     bytes   the encoded spec (byte-equal specs are the same schedule)
-- ARGV[3] timing   string  fingerprint of the spec's timing fields
-- ARGV[4] next_ms  int     the new timing's first occurrence after now, ms (0 = none: it never fires)
-- ARGV[5] limit    int     occurrences to fire in all (0 = no limit)
--
-- Reply: numbers
-- Returns {code, rev}: OK (created or changed) or DUPLICATE (the same spec
-- was stored already: nothing changed), and the schedule's revision.
--!include codes
--!include now
--!include wake
--!include schedule

local old = redis.call('HGET', K.schedules, A.id)
local st = schedule_get(K.schedule_state, A.id)
if st and old == A.spec then return { CODE.DUPLICATE, st.rev } end
local now = now_ms(false)
st = st or { rev = 0, paused = 0, ended = 0, count = 0, last_occ = 0, last_job = '', fired_at = 0,
  skipped = 0, refused = 0, timing = '', created_at = now }
st.rev = st.rev + 1
st.updated_at = now
local pending = st.timing == A.timing and redis.call('ZSCORE', K.schedule_next, A.id)
st.timing = A.timing
local next_at = pending and tonumber(pending) or A.next_ms
if A.limit > 0 and st.count >= A.limit then next_at = 0 end
st.ended = next_at == 0 and 1 or 0
redis.call('HSET', K.schedules, A.id, A.spec)
schedule_put(K.schedule_state, A.id, st)
if st.paused == 0 and next_at > 0 then
  redis.call('ZADD', K.schedule_next, next_at, A.id)
  wake(K.wake)
  wake(K.schedule_wake)
else
  redis.call('ZREM', K.schedule_next, A.id)
end
return { CODE.OK, st.rev }
