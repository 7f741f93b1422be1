-- Reads the queue's state and policy from `meta` in one HMGET: `paused`,
-- `list_until` (see ready.lua), the state below and every policy field, each
-- a number with its default (policy_schema) when unset.
--!include policy_schema
-- State read with it (each 0 when unset; policy.json's `state`): `hold_until` (a back-off: no job
-- starts before), `rate_tat` (the queue's rate state), `limited_until` (the
-- queue's limits hold jobs back until then), `group_vt` and `lane_vt` (turns,
-- see groups.lua), `group_seq` (the last seq given to a grouped job).
local function read_policy(meta_key)
  return policy_of(redis.call('HMGET', meta_key, unpack(POLICY_READ)))
end
