-- remove: delete one job in any state, at the user's explicit request. A
-- worker that holds it loses its lease (its ack will be refused).
--
-- KEYS[1]  jobs        hash
-- KEYS[2]  ready       list
-- KEYS[3]  prio        zset
-- KEYS[4]  priorities  hash
-- KEYS[5]  meta        hash
-- KEYS[6]  delayed     zset
-- KEYS[7]  leased      zset
-- KEYS[8]  runs        hash
-- KEYS[9]  errors      hash
-- KEYS[10] dead        zset
-- KEYS[11] done        zset
-- KEYS[12] cancelled   zset
-- KEYS[13] results     hash
-- KEYS[14] dedup       hash
-- KEYS[15] dedup_exp   zset
-- KEYS[16] events      stream `removed`
-- KEYS[17] progress    hash
-- KEYS[18] metrics     hash   counters of events by kind (includes/events.lua)
--
-- ARGV[1] id  string
--
-- Reply: code
-- Returns OK or NOT_FOUND.
--!include codes
--!include ready
--!include record
--!include dedup
--!include policy
--!include events

local id = A.id
local raw = redis.call('HGET', K.jobs, id)
if not raw then return CODE.NOT_FOUND end
local h = record_header(raw)
local made = run_attempts(redis.call('HGET', K.runs, id))
if h and h[REC.DEDUP_KEY] then dedup_release({ dedup = K.dedup, dedup_exp = K.dedup_exp }, h[REC.DEDUP_KEY], id) end
redis.call('HDEL', K.jobs, id)
ready_remove(ready_keys(K.ready, K.prio, K.priorities, K.meta), id)
ready_forget(K.priorities, { id })
redis.call('ZREM', K.delayed, id)
redis.call('ZREM', K.leased, id)
redis.call('ZREM', K.dead, id)
redis.call('ZREM', K.done, id)
redis.call('ZREM', K.cancelled, id)
redis.call('HDEL', K.runs, id)
redis.call('HDEL', K.errors, id)
redis.call('HDEL', K.results, id)
redis.call('HDEL', K.progress, id)
local ev = events_new(K.events, read_policy(K.meta).events_max, K.metrics)
event(ev, 'removed', id, made)
events_flush(ev)
return CODE.OK
