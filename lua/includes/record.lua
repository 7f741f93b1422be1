-- A job record, as written by the client (codec.ts), is one byte giving the
-- header's length, the header, then the payload's msgpack bytes. The header
-- is a msgpack array of numbers:
--   [1] version  [2] attempts  [3] backoff type (0 fixed, 1 exponential)
--   [4] backoff delay ms  [5] backoff max ms  [6] jitter (0..1)  [7] created-at ms  [8] timeout ms
-- Scripts decode the header only on rare paths (an expired lease), never per
-- job, and never the payload (cmsgpack cannot read every msgpack type).

-- The decoded header, or nil when the record is not readable.
local function record_header(raw)
  local len = string.byte(raw, 1)
  if not len or #raw <= len then return nil end
  local ok, header = pcall(cmsgpack.unpack, string.sub(raw, 2, 1 + len))
  if ok and type(header) == 'table' then return header end
  return nil
end

-- Retry delay for attempt number `made` (1-based) from a record header's backoff.
-- `rnd` is a caller-supplied number in [0, 1) for jitter.
local function record_backoff(rec, made, rnd)
  local kind, base = tonumber(rec[3]) or 0, tonumber(rec[4]) or 0
  local cap, jitter = tonumber(rec[5]) or 0, tonumber(rec[6]) or 0
  local delay = base
  if kind == 1 then delay = base * (2 ^ (made - 1)) end
  if cap > 0 and delay > cap then delay = cap end
  if jitter > 0 then delay = delay * (1 - jitter * rnd) end
  return math.floor(delay)
end
