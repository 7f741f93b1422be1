-- topic-append: on a Redis Cluster, where subscriber queues live in other
-- slots than the topic, a message is appended to the topic's outbox (in the
-- topic's slot) and delivered into each queue afterwards by topic-deliver.
-- The entry names the queues subscribed now: they, and only they, get it.
-- Written once: a publish resent after a reconnect is recognised.
--
-- KEYS[1] topic_subs        hash    subscribed queues (none: nothing is kept)
-- KEYS[2] topic_publishers  hash    publisher id -> its newest message applied
-- KEYS[3] topic_outbox      stream  messages on their way
-- KEYS[4] topic_seen        zset    publisher id, scored by its last publish ms (includes/publishers.lua)
--
-- ARGV[1] publisher  string
-- ARGV[2] message    int     the message id (from a block on topic_ids)
-- ARGV[3] job_id     string  the job id in every subscriber queue
-- ARGV[4] delay      int
-- ARGV[5] opts       string
-- ARGV[6] record     bytes
--
-- Reply: numbers
-- Returns {code, n}: OK with n subscribed queues (0: no subscriber, nothing
-- kept); DUPLICATE (applied before; nothing written).
--!include codes
--!include publishers

local pk = { publishers = K.topic_publishers, seen = K.topic_seen }
local newest = publisher_newest(pk, A.publisher)
if A.message <= newest then return { CODE.DUPLICATE, 0 } end
local queues = redis.call('HKEYS', K.topic_subs)
publisher_applied(pk, A.publisher, A.message)
if #queues == 0 then return { CODE.OK, 0 } end
-- queue names have no control characters
redis.call('XADD', K.topic_outbox, '*', 'j', A.job_id, 'd', A.delay, 'o', A.opts, 'r', A.record, 'q', table.concat(queues, '\n'))
return { CODE.OK, #queues }
