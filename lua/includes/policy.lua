-- Reads the queue's state and policy from `meta` in one HMGET: `paused`,
-- `list_until` (see ready.lua) and every policy field, each a number with its
-- default (policy_schema) when unset.
--!include policy_schema
local function read_policy(meta_key)
  local names = { 'paused', 'list_until' }
  for _, f in ipairs(POLICY_FIELDS) do names[#names + 1] = f end
  local vals = redis.call('HMGET', meta_key, unpack(names))
  local p = { paused = vals[1] == '1', list_until = tonumber(vals[2]) or 0 }
  for i, f in ipairs(POLICY_FIELDS) do p[f] = tonumber(vals[i + 2]) or POLICY_DEFAULTS[f] end
  return p
end
