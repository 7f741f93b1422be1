-- A job record, as written by the client (codec.ts): the byte 0xC1 (never
-- used by msgpack), the header's length as two bytes (big-endian), the header
-- (a msgpack array [version, fields...], positions in record_schema), then the
-- payload's msgpack bytes as they are. A record of version 1 (written before
-- the schema) starts with a one-byte header length instead. Scripts decode the
-- header only on rare paths (an expired lease, a cancel), never per job, and
-- never the payload (cmsgpack cannot read every msgpack type).
--!include record_schema

-- The decoded header (a table indexed by REC), or nil when the record is not
-- readable. A version-1 header has the same first eight positions.
local function record_header(raw)
  local header
  if string.byte(raw, 1) == 0xC1 then
    local hi, lo = string.byte(raw, 2, 3)
    if not lo then return nil end
    local len = hi * 256 + lo
    if #raw < 3 + len then return nil end
    header = string.sub(raw, 4, 3 + len)
  else
    local len = string.byte(raw, 1)
    if not len or #raw <= len then return nil end
    header = string.sub(raw, 2, 1 + len)
  end
  local ok, h = pcall(cmsgpack.unpack, header)
  if ok and type(h) == 'table' then return h end
  return nil
end

-- Retry delay for attempt number `made` (1-based) from a record header's backoff.
-- `rnd` is a caller-supplied number in [0, 1) for jitter.
local function record_backoff(h, made, rnd)
  local kind, base = tonumber(h[REC.BACKOFF_TYPE]) or 0, tonumber(h[REC.BACKOFF_MS]) or 0
  local cap, jitter = tonumber(h[REC.BACKOFF_MAX_MS]) or 0, tonumber(h[REC.JITTER]) or 0
  local delay = base
  if kind == 1 then delay = base * (2 ^ (made - 1)) end
  if cap > 0 and delay > cap then delay = cap end
  if jitter > 0 then delay = delay * (1 - jitter * rnd) end
  return math.floor(delay)
end
