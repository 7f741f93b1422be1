-- The one clock: Redis server time in milliseconds. Scripts never take a
-- timestamp from the caller, only durations.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
