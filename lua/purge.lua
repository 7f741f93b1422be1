-- purge: delete dead-lettered jobs for good (an operator's explicit removal).
--
-- KEYS[1] dead        zset
-- KEYS[2] jobs        hash
-- KEYS[3] runs        hash
-- KEYS[4] errors      hash
-- KEYS[5] priorities  hash
-- KEYS[6] progress    hash
--
-- ARGV[1..] ids  {id: string, died: string}  at most ~1000 per call (the client pages); `died`:
--                the time of death the caller saw (a `dead` score), '' for whichever
--
-- Reply: codes
-- Returns {code1, ...}: OK, STALE (dead, but not in the death given: replayed
-- and dead again since; left as it is), NOT_DEAD (exists but not dead) or NOT_FOUND.
--!include codes
--!include ready
--!include dead

local codes = {}
for i = 1, A.ids_n do
  local id, died = ids(i)
  codes[i] = dead_take(K.dead, K.jobs, id, died)
  if codes[i] == CODE.OK then
    redis.call('HDEL', K.jobs, id)
    redis.call('HDEL', K.runs, id)
    redis.call('HDEL', K.errors, id)
    redis.call('HDEL', K.progress, id)
    ready_forget(K.priorities, { id })
  end
end
return codes
