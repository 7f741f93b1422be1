-- A job's run state lives in the `runs` hash: "<attempts>" between runs, and
-- "<attempts>:<fence>:<nonce>" while leased. That whole string is the lease's
-- fencing token: an ack, fail, extend or release must present it exactly. The
-- fence counter makes tokens unique while Redis keeps its writes; the nonce
-- (random, from the leasing worker) keeps them unique when a failover rolls
-- the counter back and hands a fence number out a second time.
-- A job cancelled while leased has "<token>:cancelled"; one completed and kept
-- has "<token>:done".
-- The attempts of a run state or token as text ('0' for none): what an event records, with no
-- number conversion.
local function run_attempts_text(value)
  return value and string.match(value, '^(%d+)') or '0'
end

local function run_attempts(value)
  return tonumber(run_attempts_text(value)) or 0
end

-- Redis keeps small hashes and sorted sets as listpacks, where every lookup
-- scans the whole key: with a hundred jobs in flight, one ack batch would scan
-- thousands of entries. One member longer than 64 bytes converts a key to a
-- hash table or skiplist for good, so the hot keys each keep such a sentinel.
-- It sorts at +inf in `leased` (never expires) and no job id can equal it.
-- Writers add it to the command they send anyway (`SENTINEL '1'` in an HSET
-- of `jobs` or `runs`, `inf SENTINEL` in a ZADD of `leased`): written again
-- as it is, at no extra command.
local SENTINEL = '\0kyoo:sentinel:keeps-this-key-a-hash-table-not-a-listpack:do-not-remove'

-- A score as Redis should store it: Lua would print only 14 digits, losing
-- the sub-millisecond part of a time (a whole number below 10^14 it prints
-- exactly, and faster).
local function score(x)
  if x % 1 == 0 and x < 1e14 and x > -1e14 then return tostring(x) end
  return string.format('%.17g', x)
end
