-- topic-delivered: on a Redis Cluster, records in the topic's slot how far a
-- subscriber queue has taken the outbox (after topic-deliver wrote it in the
-- queue's slot), ends a leaving queue's subscription once it has everything
-- that was its, and trims the outbox of entries every queue has.
--
-- KEYS[1] topic_subs       hash
-- KEYS[2] topic_delivered  hash    queue -> outbox id it has
-- KEYS[3] topic_outbox     stream
-- KEYS[4] topic_leaving    hash    queue -> "<since>,<until>"
--
-- ARGV[1] queue  string
-- ARGV[2] place  string  the outbox id the queue has taken up to
--
-- Reply: numbers
-- Returns {trimmed}: entries deleted from the outbox.
--!include stream-ids

local leaving = redis.call('HGET', K.topic_leaving, A.queue)
if redis.call('HEXISTS', K.topic_subs, A.queue) == 1 or leaving then
  local had = redis.call('HGET', K.topic_delivered, A.queue)
  if not had or id_before(had, A.place) then redis.call('HSET', K.topic_delivered, A.queue, A.place) end
  if leaving and not id_before(A.place, string.match(leaving, ',(.+)$')) then
    redis.call('HDEL', K.topic_leaving, A.queue)
    redis.call('HDEL', K.topic_delivered, A.queue)
  end
end
-- the outbox keeps what some queue does not have yet
local low
local function consider(queue, since)
  local place = id_max(redis.call('HGET', K.topic_delivered, queue) or since, since)
  if not low or id_before(place, low) then low = place end
end
local subs = redis.call('HGETALL', K.topic_subs)
for i = 1, #subs, 2 do consider(subs[i], subs[i + 1]) end
local out = redis.call('HGETALL', K.topic_leaving)
for i = 1, #out, 2 do consider(out[i], string.match(out[i + 1], '^([^,]+),')) end
if not low then return { redis.call('XTRIM', K.topic_outbox, 'MAXLEN', 0) } end -- nobody's
if low == '0-0' then return { 0 } end
local ms, seq = string.match(low, '^(%d+)-(%d+)$')
return { redis.call('XTRIM', K.topic_outbox, 'MINID', ms .. '-' .. (tonumber(seq) + 1)) }
