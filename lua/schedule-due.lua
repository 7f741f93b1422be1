-- schedule-due: read the schedules whose next occurrence is due, for a firer
-- (a worker's lease loop or a standalone scheduler). Changes nothing.
--
-- KEYS[1] schedules       hash
-- KEYS[2] schedule_state  hash
-- KEYS[3] schedule_next   zset
--
-- ARGV[1] max  int  due schedules to return at most
--
-- Reply: due
-- Returns {now_ms, later_ms, id1, next1, spec1, state1, ...}: Redis's time,
-- the next occurrence of the first schedule not yet due (0 = none), then per
-- due schedule (earliest first) its id, pending occurrence ms, spec and state.
--!include now

local now = now_ms(false)
local due = redis.call('ZRANGEBYSCORE', K.schedule_next, '-inf', now, 'WITHSCORES', 'LIMIT', 0, A.max)
local later = redis.call('ZRANGEBYSCORE', K.schedule_next, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
local out = { now, tonumber(later[2]) or 0 }
for i = 1, #due, 2 do
  local id = due[i]
  out[#out + 1] = id
  out[#out + 1] = tonumber(due[i + 1])
  out[#out + 1] = redis.call('HGET', K.schedules, id) or ''
  out[#out + 1] = redis.call('HGET', K.schedule_state, id) or ''
end
return out
