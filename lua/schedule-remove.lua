-- schedule-remove: delete a schedule. It fires nothing from the moment this
-- call returns; jobs it made already stay (they are jobs like any other).
--
-- KEYS[1] schedules       hash
-- KEYS[2] schedule_state  hash
-- KEYS[3] schedule_next   zset
--
-- ARGV[1] id  string
--
-- Reply: code
-- Returns OK or NOT_FOUND.
--!include codes

local gone = redis.call('HDEL', K.schedules, A.id) + redis.call('HDEL', K.schedule_state, A.id)
redis.call('ZREM', K.schedule_next, A.id)
if gone == 0 then return CODE.NOT_FOUND end
return CODE.OK
