-- enqueue: add one or more jobs atomically (add, addBulk and same-tick adds
-- batched by the client all arrive here as one call).
--
-- KEYS[1] jobs     hash    job id -> record
-- KEYS[2] ready    list    jobs due now are appended here
-- KEYS[3] delayed  zset    jobs with a delay, scored by run-at ms
-- KEYS[4] ids      string  counter for generated ids
-- KEYS[5] wake     list    wake token for idle workers
--
-- ARGV[1] count    int     number of jobs n
-- ARGV[2] auto     int     how many of them need a generated id
-- then n triples:
--   id       string  the job id, or '' to generate one
--   delay    int     ms from now until the job may run (0 = now)
--   record   bytes   the job record (see includes/record.lua)
--
-- Returns a flat array {id1, code1, id2, code2, ...} in input order, where
-- code is OK, or DUPLICATE when a job with that id existed (it is left alone:
-- custom ids make adds idempotent).
--!include codes
--!include now
--!include wake
--!include runs

local n = tonumber(ARGV[1])
local auto = tonumber(ARGV[2])
local next_id = 0
if auto > 0 then next_id = redis.call('INCRBY', K.ids, auto) - auto end

local now = nil
local out, jobs, ready, delayed, seen = {}, {}, {}, {}, {}
for i = 0, n - 1 do
  local id, delay, rec = ARGV[3 + i * 3], tonumber(ARGV[4 + i * 3]), ARGV[5 + i * 3]
  local code = CODE.OK
  if id == '' then
    next_id = next_id + 1
    id = string.format('%d', next_id)
  elseif seen[id] or redis.call('HEXISTS', K.jobs, id) == 1 then
    code = CODE.DUPLICATE
  end
  if code == CODE.OK then
    seen[id] = true
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
