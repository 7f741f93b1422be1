-- Reads the queue's state and policy from `meta` in one HMGET: `paused`,
-- `list_until` (see ready.lua), the state below and every policy field, each
-- a number with its default (policy_schema) when unset.
--!include policy_schema
-- State read with it (each 0 when unset): `hold_until` (a back-off: no job
-- starts before), `rate_tat` (the queue's rate state), `limited_until` (the
-- queue's limits hold jobs back until then), `group_vt` and `lane_vt` (turns,
-- see groups.lua), `group_seq` (the last seq given to a grouped job).
local STATE_FIELDS = { 'list_until', 'hold_until', 'rate_tat', 'limited_until', 'group_vt', 'lane_vt', 'group_seq' }
local function read_policy(meta_key)
  local names = { 'paused' }
  for _, f in ipairs(STATE_FIELDS) do names[#names + 1] = f end
  for _, f in ipairs(POLICY_FIELDS) do names[#names + 1] = f end
  local vals = redis.call('HMGET', meta_key, unpack(names))
  local p = { paused = vals[1] == '1' }
  for i, f in ipairs(STATE_FIELDS) do p[f] = tonumber(vals[i + 1]) or 0 end
  local base = 1 + #STATE_FIELDS
  for i, f in ipairs(POLICY_FIELDS) do p[f] = tonumber(vals[i + base]) or POLICY_DEFAULTS[f] end
  return p
end
