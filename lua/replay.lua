-- replay: move dead-lettered jobs back to the ready queue with their attempts
-- reset (and their error history cleared), for an operator once the cause is fixed.
--
-- KEYS[1] dead      zset
-- KEYS[2] runs      hash
-- KEYS[3] errors    hash
-- KEYS[4] ready     list
-- KEYS[5] wake      list
-- KEYS[6] jobs      hash
--
-- ARGV: the job ids (at most ~1000 per call; the client pages).
--
-- Returns {code1, ...}: OK, NOT_DEAD (exists but not dead) or NOT_FOUND.
--!include codes
--!include wake

local codes, back = {}, {}
for i, id in ipairs(ARGV) do
  if redis.call('ZREM', K.dead, id) == 1 then
    redis.call('HDEL', K.runs, id)
    redis.call('HDEL', K.errors, id)
    back[#back + 1] = id
    codes[i] = CODE.OK
  elseif redis.call('HEXISTS', K.jobs, id) == 1 then
    codes[i] = CODE.NOT_DEAD
  else
    codes[i] = CODE.NOT_FOUND
  end
end
if #back > 0 then
  redis.call('RPUSH', K.ready, unpack(back))
  wake(K.wake)
end
return codes
