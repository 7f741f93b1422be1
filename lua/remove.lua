-- remove: delete one job in any state, at the user's explicit request. A
-- worker that holds it loses its lease (its ack will be refused).
--
-- KEYS[1]  jobs      hash
-- KEYS[2]  ready     list
-- KEYS[3]  delayed   zset
-- KEYS[4]  leased    zset
-- KEYS[5]  runs      hash
-- KEYS[6]  errors    hash
-- KEYS[7]  dead      zset
-- KEYS[8]  done      zset
-- KEYS[9]  results   hash
--
-- ARGV[1] id  string
--
-- Returns OK or NOT_FOUND.
--!include codes

local id = ARGV[1]
if redis.call('HDEL', K.jobs, id) == 0 then return CODE.NOT_FOUND end
-- LREM scans the list: O(backlog), acceptable for an explicit admin action
redis.call('LREM', K.ready, 1, id)
redis.call('ZREM', K.delayed, id)
redis.call('ZREM', K.leased, id)
redis.call('ZREM', K.dead, id)
redis.call('ZREM', K.done, id)
redis.call('HDEL', K.runs, id)
redis.call('HDEL', K.errors, id)
redis.call('HDEL', K.results, id)
return CODE.OK
