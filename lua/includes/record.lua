-- A job record is a msgpack array written by the client (codec.ts):
--   [1] version  [2] payload (bin)  [3] attempts  [4] backoff type (0 fixed, 1 exponential)
--   [5] backoff delay ms  [6] backoff max ms  [7] jitter (0..1)  [8] created-at ms  [9] timeout ms
-- Scripts decode it only on rare paths (an expired lease), never per job.

-- Retry delay for attempt number `made` (1-based) from the record's backoff.
-- `rnd` is a caller-supplied number in [0, 1) for jitter.
local function record_backoff(rec, made, rnd)
  local kind, base = tonumber(rec[4]) or 0, tonumber(rec[5]) or 0
  local cap, jitter = tonumber(rec[6]) or 0, tonumber(rec[7]) or 0
  local delay = base
  if kind == 1 then delay = base * (2 ^ (made - 1)) end
  if cap > 0 and delay > cap then delay = cap end
  if jitter > 0 then delay = delay * (1 - jitter * rnd) end
  return math.floor(delay)
end
