-- topic-subscribe: adds or removes a subscriber queue, and raises the
-- revision so that publishers read the list again. A queue gets the messages
-- published while it is subscribed: on a Redis Cluster each outbox entry
-- names the queues subscribed when it was published, so one that leaves
-- still gets what was published before, and nothing published meanwhile if
-- it comes back.
--
-- KEYS[1] topic_subs  hash
-- KEYS[2] topic_rev   string
--
-- ARGV[1] queue      string
-- ARGV[2] subscribe  bool    1 = subscribe, 0 = unsubscribe
--
-- Reply: numbers
-- Returns {changed, rev}: changed 1 when the list changed (0: the queue was
-- subscribed already, or was not), rev the list's revision now.
--!include now

local has = redis.call('HEXISTS', K.topic_subs, A.queue) == 1
if A.subscribe == has then return { 0, tonumber(redis.call('GET', K.topic_rev) or '0') } end
if A.subscribe then
  redis.call('HSET', K.topic_subs, A.queue, string.format('%d', now_ms()))
else
  redis.call('HDEL', K.topic_subs, A.queue)
end
return { 1, redis.call('INCR', K.topic_rev) }
