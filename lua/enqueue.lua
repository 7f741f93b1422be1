-- enqueue: add one or more jobs atomically (add, addBulk and same-tick adds
-- batched by the client all arrive here as one call).
--
-- KEYS[1] jobs     hash    job id -> record
-- KEYS[2] ready    list    jobs due now are appended here
-- KEYS[3] delayed  zset    jobs with a delay, scored by run-at ms
-- KEYS[4] ids      string  counter for generated ids (clients reserve blocks of it)
-- KEYS[5] wake     list    wake token for idle workers
--
-- ARGV[1] count    int     number of jobs n
-- then n quadruples:
--   id       string  the job id
--   gen      int     1 = an id the client took from a block it reserved on `ids`
--                    (see IdBlocks), 0 = the caller's own id
--   delay    int     ms from now until the job may run (0 = now)
--   record   bytes   the job record (see includes/record.lua)
--
-- Returns a flat array {id1, code1, id2, code2, ...} in input order. A
-- caller's own id that exists already gives DUPLICATE and changes nothing
-- (adds with ids are idempotent). A generated id that exists with the same
-- record is this very add sent twice (a client resends a command whose reply
-- was lost in a reconnect): OK, nothing changes. A generated id that exists
-- with another record (the counter went back, e.g. Redis lost its last
-- writes) gets a fresh id from `ids`: OK, under the new id.
--!include codes
--!include now
--!include wake
--!include runs

local n = tonumber(ARGV[1])
local ids = {}
for i = 0, n - 1 do ids[#ids + 1] = ARGV[2 + i * 4] end
local existing = redis.call('HMGET', K.jobs, unpack(ids))

local now = nil
local out, jobs, ready, delayed, seen = {}, {}, {}, {}, {}
for i = 0, n - 1 do
  local id, gen, delay, rec = ARGV[2 + i * 4], ARGV[3 + i * 4], tonumber(ARGV[4 + i * 4]), ARGV[5 + i * 4]
  local code, add = CODE.OK, true
  local old = existing[i + 1] or seen[id]
  if old then
    add = false
    if gen == '0' then
      code = CODE.DUPLICATE
    elseif old ~= rec then
      id = string.format('%d', redis.call('INCR', K.ids))
      add = true
    end
  end
  if add then
    seen[id] = rec
    jobs[#jobs + 1] = id; jobs[#jobs + 1] = rec
    if delay > 0 then
      now = now or now_ms()
      delayed[#delayed + 1] = now + delay; delayed[#delayed + 1] = id
    else
      ready[#ready + 1] = id
    end
  end
  out[#out + 1] = id; out[#out + 1] = code
end

if #jobs > 0 then
  keep_hashtable(K.jobs)
  redis.call('HSET', K.jobs, unpack(jobs))
end
if #ready > 0 then redis.call('RPUSH', K.ready, unpack(ready)) end
if #delayed > 0 then redis.call('ZADD', K.delayed, unpack(delayed)) end
-- A delayed job also wakes one worker, so that it shortens its blocking timeout.
if #ready > 0 or #delayed > 0 then wake(K.wake) end
return out
