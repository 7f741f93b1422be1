-- purge: delete dead-lettered jobs for good (an operator's explicit removal).
--
-- KEYS[1] dead        zset
-- KEYS[2] jobs        hash
-- KEYS[3] runs        hash
-- KEYS[4] errors      hash
-- KEYS[5] priorities  hash
-- KEYS[6] progress    hash
--
-- ARGV[1..] ids  {id: string}  at most ~1000 per call (the client pages)
--
-- Reply: codes
-- Returns {code1, ...}: OK, NOT_DEAD (exists but not dead) or NOT_FOUND.
--!include codes
--!include ready

local codes = {}
for i = 1, A.ids_n do
  local id = ids(i)
  if redis.call('ZREM', K.dead, id) == 1 then
    redis.call('HDEL', K.jobs, id)
    redis.call('HDEL', K.runs, id)
    redis.call('HDEL', K.errors, id)
    redis.call('HDEL', K.progress, id)
    ready_forget(K.priorities, { id })
    codes[i] = CODE.OK
  elseif redis.call('HEXISTS', K.jobs, id) == 1 then
    codes[i] = CODE.NOT_DEAD
  else
    codes[i] = CODE.NOT_FOUND
  end
end
return codes
