-- The one clock: Redis server time in milliseconds. Scripts never take a
-- timestamp from the caller, only durations.
-- With `precise`, the result keeps the microseconds as a fraction.
local function now_ms(precise)
  local t = redis.call('TIME')
  if precise then return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 end
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
