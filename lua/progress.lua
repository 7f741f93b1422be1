-- progress: a running job reports how far it is. Written only while the
-- reporting run still holds its lease (fenced by its token), so a report that
-- arrives after the job completed, failed, was cancelled or lost its lease
-- changes nothing.
--
-- KEYS[1] runs      hash
-- KEYS[2] progress  hash    job id -> "<attempt>,<ms>,<json>": the latest report
-- KEYS[3] events    stream  one `progress` entry, with the value in field `p`
-- KEYS[4] meta      hash    policy: events_max
--
-- ARGV[1] id     string
-- ARGV[2] token  string  the run's fencing token
-- ARGV[3] value  string  the progress as JSON (checked by the client)
--
-- Reply: code
-- Returns OK, CANCELLED (the job was cancelled while it ran) or LEASE_LOST.
--!include codes
--!include now
--!include policy
--!include runs

local held = redis.call('HGET', K.runs, A.id)
if held ~= A.token then
  if held == A.token .. ':cancelled' then return CODE.CANCELLED end
  return CODE.LEASE_LOST
end
local attempt = run_attempts(held)
local at = now_ms()
local max = read_policy(K.meta).events_max
if max > 0 then
  -- the report's time is its event's (the entry id's ms, which may be a ms past the clock read
  -- above): a waiter that read the report and then hears its event knows it for the same one
  local entry = redis.call('XADD', K.events, 'MAXLEN', '~', max, '*', 'e', 'progress', 'j', A.id, 'a', attempt, 'p', A.value)
  at = tonumber(string.match(entry, '^(%d+)'))
end
redis.call('HSET', K.progress, A.id, string.format('%d,%d,', attempt, at) .. A.value)
return CODE.OK
