-- lease: promote due delayed jobs, reclaim expired leases, and lease up to N
-- ready jobs to the calling worker with a fresh fencing token each.
--
-- KEYS[1]  ready     list
-- KEYS[2]  delayed   zset
-- KEYS[3]  leased    zset   scored by lease deadline ms
-- KEYS[4]  runs      hash   job id -> "<attempts>" or "<attempts>:<fence>" while leased
-- KEYS[5]  jobs      hash   job id -> record
-- KEYS[6]  errors    hash   job id -> error history
-- KEYS[7]  dead      zset
-- KEYS[8]  meta      hash   `paused` stops leasing
-- KEYS[9]  wake      list
-- KEYS[10] fence     string fencing token counter
--
-- ARGV[1] n           int    jobs wanted (free slots); 0 only promotes and reclaims
-- ARGV[2] lease_ms    int    lease duration
-- ARGV[3] rnd         float  random number in [0, 1) for backoff jitter of reclaimed jobs
-- ARGV[4] max_errors  int    error history kept per job
--
-- Returns {next_in_ms, id, token, attempt, record, ...} (see includes/lease.lua).
-- A lease is an attempt: `attempt` is 1 on the first run.
--!include codes
--!include now
--!include wake
--!include record
--!include errors
--!include runs
--!include lease

local now = now_ms()
promote(now)
reclaim(now, tonumber(ARGV[3]), tonumber(ARGV[4]))
-- a worker coming out of idle may be the first to hold a lease: announce it
return lease_batch(now, tonumber(ARGV[1]), tonumber(ARGV[2]), true)
