-- extend: the heartbeat. Push the deadline of every lease a worker holds to
-- now + lease_ms, in one call for all of its in-flight jobs.
--
-- KEYS[1] leased  zset
-- KEYS[2] runs    hash
--
-- ARGV[1] lease_ms  int
-- ARGV[2] count     int   number of leases m
-- then m pairs: id, token
--
-- Returns {code1, ..., codem}: OK, or LEASE_LOST when the token is stale (the
-- lease expired and was reclaimed, or the job was removed).
--!include codes
--!include now

local m = tonumber(ARGV[2])
local codes, ids = {}, {}
for i = 0, m - 1 do ids[#ids + 1] = ARGV[3 + i * 2] end
if m == 0 then return codes end
local tokens = redis.call('HMGET', K.runs, unpack(ids))
local deadline = now_ms() + tonumber(ARGV[1])
local zargs = {}
for i = 1, m do
  if tokens[i] == ARGV[2 + i * 2] then
    codes[i] = CODE.OK
    zargs[#zargs + 1] = deadline; zargs[#zargs + 1] = ids[i]
  else
    codes[i] = CODE.LEASE_LOST
  end
end
if #zargs > 0 then redis.call('ZADD', K.leased, 'XX', unpack(zargs)) end
return codes
