-- extend: the heartbeat. Push the deadline of every lease a worker holds to
-- now + lease_ms, in one call for all of its in-flight jobs.
--
-- KEYS[1] leased  zset
-- KEYS[2] runs    hash
--
-- ARGV[1] lease_ms  int
-- ARGV[2..] leases  {id: string, token: string}
--
-- Reply: codes
-- Returns {code1, ..., codem}: OK; LEASE_LOST when the token is stale (the
-- lease expired and was reclaimed, or the job was removed); CANCELLED when the
-- job was cancelled (its handler's signal should abort).
--!include codes
--!include now

local m = A.leases_n
local codes, ids = {}, {}
if m == 0 then return codes end
for i = 1, m do ids[i] = leases(i) end
local tokens = redis.call('HMGET', K.runs, unpack(ids))
local deadline = now_ms() + A.lease_ms
local zargs = {}
for i = 1, m do
  local id, token = leases(i)
  if tokens[i] == token then
    codes[i] = CODE.OK
    zargs[#zargs + 1] = deadline; zargs[#zargs + 1] = id
  elseif tokens[i] == token .. ':cancelled' then
    codes[i] = CODE.CANCELLED
  else
    codes[i] = CODE.LEASE_LOST
  end
end
if #zargs > 0 then redis.call('ZADD', K.leased, 'XX', unpack(zargs)) end
return codes
