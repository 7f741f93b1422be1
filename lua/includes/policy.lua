-- Reads the queue's state and policy from `meta` in one HMGET: `paused`,
-- `list_until` (see ready.lua), the state below and every policy field, each
-- a number with its default (policy_schema) when unset.
--!include policy_schema
-- State read with it (each 0 when unset): `hold_until` (a back-off: no job
-- starts before), `rate_tat` (the queue's rate state), `limited_until` (the
-- queue's limits hold jobs back until then), `group_vt` and `lane_vt` (turns,
-- see groups.lua), `group_seq` (the last seq given to a grouped job).
local STATE_FIELDS = { 'list_until', 'hold_until', 'rate_tat', 'limited_until', 'group_vt', 'lane_vt', 'group_seq' }
-- the fields as HMGET takes them, built once (in a Functions library, once per load, where no
-- library function such as ipairs may be called yet)
local POLICY_READ = { 'paused' }
for i = 1, #STATE_FIELDS do POLICY_READ[#POLICY_READ + 1] = STATE_FIELDS[i] end
for i = 1, #POLICY_FIELDS do POLICY_READ[#POLICY_READ + 1] = POLICY_FIELDS[i] end
local POLICY_BASE = 1 + #STATE_FIELDS
local function read_policy(meta_key)
  local vals = redis.call('HMGET', meta_key, unpack(POLICY_READ))
  local p = { paused = vals[1] == '1' }
  for i, f in ipairs(STATE_FIELDS) do p[f] = tonumber(vals[i + 1]) or 0 end
  for i, f in ipairs(POLICY_FIELDS) do p[f] = tonumber(vals[i + POLICY_BASE]) or POLICY_DEFAULTS[f] end
  return p
end
