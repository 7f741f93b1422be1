-- topic-subscribe: adds or removes a subscriber queue; the revision goes up
-- so that publishers read the list again. A new subscriber gets the messages
-- published after this call (its place starts at the outbox's newest entry).
-- On a Redis Cluster a queue that leaves still gets the messages published
-- while it was subscribed and not yet delivered to it (`topic_leaving`); one
-- that comes back before they are delivered keeps its old place. On a single
-- Redis the outbox is always empty, so leaving is immediate.
--
-- KEYS[1] topic_subs       hash
-- KEYS[2] topic_rev        string
-- KEYS[3] topic_outbox     stream
-- KEYS[4] topic_delivered  hash
-- KEYS[5] topic_leaving    hash
--
-- ARGV[1] queue      string
-- ARGV[2] subscribe  bool    1 = subscribe, 0 = unsubscribe
--
-- Reply: numbers
-- Returns {changed, rev}: changed 1 when the list changed (0: the queue was
-- subscribed already, or was not), rev the list's revision now.
--!include stream-ids

local has = redis.call('HEXISTS', K.topic_subs, A.queue) == 1
if A.subscribe == has then return { 0, tonumber(redis.call('GET', K.topic_rev) or '0') } end
local newest = redis.call('XREVRANGE', K.topic_outbox, '+', '-', 'COUNT', 1)[1]
newest = newest and newest[1] or '0-0'
if A.subscribe then
  local leaving = redis.call('HGET', K.topic_leaving, A.queue)
  if leaving then
    redis.call('HDEL', K.topic_leaving, A.queue)
    redis.call('HSET', K.topic_subs, A.queue, string.match(leaving, '^([^,]+),'))
  else
    redis.call('HSET', K.topic_subs, A.queue, newest)
  end
else
  local since = redis.call('HGET', K.topic_subs, A.queue)
  redis.call('HDEL', K.topic_subs, A.queue)
  local place = id_max(redis.call('HGET', K.topic_delivered, A.queue) or since, since)
  if id_before(place, newest) then
    redis.call('HSET', K.topic_leaving, A.queue, since .. ',' .. newest)
  else
    redis.call('HDEL', K.topic_delivered, A.queue)
  end
end
return { 1, redis.call('INCR', K.topic_rev) }
