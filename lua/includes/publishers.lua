-- A topic's publishers: the newest message id each has had applied (a call
-- resent after a reconnect carries an id at or below it, and is recognised),
-- and when each last published. A publisher idle for a day is forgotten, a
-- few at a time on about one publish in 64: a resend comes within seconds of
-- its call, never a day after. `k` is { publishers, seen }.
--!include now

local PUBLISHER_IDLE_MS = 86400000

local function publisher_newest(k, publisher)
  return tonumber(redis.call('HGET', k.publishers, publisher) or '0')
end

local function publisher_applied(k, publisher, message)
  local now = now_ms()
  redis.call('HSET', k.publishers, publisher, message)
  redis.call('ZADD', k.seen, now, publisher)
  if message % 64 == 0 then
    local idle = redis.call('ZRANGEBYSCORE', k.seen, '-inf', now - PUBLISHER_IDLE_MS, 'LIMIT', 0, 20)
    if #idle > 0 then
      redis.call('HDEL', k.publishers, unpack(idle))
      redis.call('ZREM', k.seen, unpack(idle))
    end
  end
end
