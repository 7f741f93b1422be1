-- ack: complete a batch of leased jobs and, in the same round trip, lease the
-- next batch. An ack whose fencing token is stale is refused and changes nothing.
--
-- KEYS[1]  ready     list
-- KEYS[2]  delayed   zset
-- KEYS[3]  leased    zset
-- KEYS[4]  runs      hash
-- KEYS[5]  jobs      hash
-- KEYS[6]  errors    hash
-- KEYS[7]  dead      zset
-- KEYS[8]  meta      hash
-- KEYS[9]  wake      list
-- KEYS[10] fence     string
-- KEYS[11] done      zset   completed jobs kept by retention, scored by completion ms (µs fraction)
-- KEYS[12] results   hash   results of kept jobs
--
-- ARGV[1] n           int    jobs to lease after acking (0 = none)
-- ARGV[2] lease_ms    int
-- ARGV[3] rnd         float  in [0, 1), jitter for reclaimed jobs
-- ARGV[4] max_errors  int
-- ARGV[5] keep_count  int    completed jobs to keep (0 = remove at once)
-- ARGV[6] keep_age_ms int    drop kept jobs older than this (0 = no age limit)
-- ARGV[7] count       int    number of acks m
-- then m triples: id, token, result (msgpack bytes, '' for none)
--
-- Returns {{code1, ..., codem}, lease_reply}: per ack OK, LEASE_LOST (the
-- token is not the job's lease: it expired, or the job was removed), or
-- DONE_ALREADY (this same ack was applied before, seen for kept jobs only);
-- then the lease reply of lease.lua (next_in_ms first).
--!include codes
--!include now
--!include wake
--!include record
--!include errors
--!include runs
--!include lease

local keep_count, keep_age = tonumber(ARGV[5]), tonumber(ARGV[6])
local m = tonumber(ARGV[7])
-- kept jobs are scored to the microsecond (plus their place in the batch), so
-- that retention trims them in completion order even within one millisecond
local precise = now_ms(true)
local now = math.floor(precise)
local codes, ids = {}, {}
for i = 0, m - 1 do ids[#ids + 1] = ARGV[8 + i * 3] end

if m > 0 then
  local tokens = redis.call('HMGET', K.runs, unpack(ids))
  local acked, done, results, kept_runs = {}, {}, {}, {}
  for i = 0, m - 1 do
    local id, token, result = ARGV[8 + i * 3], ARGV[9 + i * 3], ARGV[10 + i * 3]
    if tokens[i + 1] == token then
      codes[#codes + 1] = CODE.OK
      acked[#acked + 1] = id
      if keep_count > 0 then
        done[#done + 1] = precise + #done * 0.0005; done[#done + 1] = id
        -- "<attempts>:<fence>:done" keeps the attempts readable and marks which lease completed it
        kept_runs[#kept_runs + 1] = id; kept_runs[#kept_runs + 1] = token .. ':done'
        if result ~= '' then results[#results + 1] = id; results[#results + 1] = result end
      end
    elseif tokens[i + 1] == token .. ':done' then
      -- this very ack was applied before (a client resent it after a reconnect)
      codes[#codes + 1] = CODE.DONE_ALREADY
    else
      codes[#codes + 1] = CODE.LEASE_LOST
    end
  end
  if #acked > 0 then
    redis.call('ZREM', K.leased, unpack(acked))
    if keep_count > 0 then
      redis.call('HSET', K.runs, unpack(kept_runs))
      redis.call('ZADD', K.done, unpack(done))
      if #results > 0 then redis.call('HSET', K.results, unpack(results)) end
    else
      redis.call('HDEL', K.jobs, unpack(acked))
      redis.call('HDEL', K.runs, unpack(acked))
      -- most jobs never failed: skip the error cleanup when no job has errors
      if redis.call('HLEN', K.errors) > 0 then redis.call('HDEL', K.errors, unpack(acked)) end
    end
  end
  if keep_count > 0 then
    -- retention: drop the oldest past keep_count, and those older than keep_age
    local drop = {}
    local over = redis.call('ZCARD', K.done) - keep_count
    if over > 0 then
      local old = redis.call('ZPOPMIN', K.done, math.min(over, 1000))
      for j = 1, #old, 2 do drop[#drop + 1] = old[j] end
    end
    if keep_age > 0 then
      local aged = redis.call('ZRANGEBYSCORE', K.done, '-inf', now - keep_age, 'LIMIT', 0, 1000)
      if #aged > 0 then
        redis.call('ZREM', K.done, unpack(aged))
        for _, id in ipairs(aged) do drop[#drop + 1] = id end
      end
    end
    if #drop > 0 then
      redis.call('HDEL', K.jobs, unpack(drop))
      redis.call('HDEL', K.results, unpack(drop))
      redis.call('HDEL', K.runs, unpack(drop))
      redis.call('HDEL', K.errors, unpack(drop))
    end
  end
end

local n = tonumber(ARGV[1])
if n > 0 then promote(now) end
reclaim(now, tonumber(ARGV[3]), tonumber(ARGV[4]))
-- a worker that acks held leases already: no announcement (it would wake idle workers per job)
return { codes, lease_batch(now, n, tonumber(ARGV[2]), false) }
