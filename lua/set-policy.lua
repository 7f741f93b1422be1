-- set-policy: set queue policy fields in `meta` (the client validates names
-- and bounds against packages/core/policy.json). Every script reads the policy
-- from there, so all workers and producers of the queue follow one policy.
--
-- KEYS[1] meta  hash
--
-- ARGV[1..] fields  {field: string, value: int}
--
-- Reply: code
-- Returns OK.
--!include codes

local args = {}
for i = 1, A.fields_n do
  local field, value = fields(i)
  args[#args + 1] = field; args[#args + 1] = value
end
if #args > 0 then redis.call('HSET', K.meta, unpack(args)) end
return CODE.OK
