-- The queue's redrive task: `redrive` (a hash of the task's fields) and
-- `redrive_ids` (the jobs it has left, scored by the death each was matched in).

local REDRIVE_FIELDS = { 'id', 'status', 'filter', 'created_at', 'total', 'replayed', 'skipped', 'finished_at' }

-- Forgets the task. HDEL and ZPOPMIN rather than DEL: both are in the
-- least-privilege grant (docs/security.md), DEL is not.
local function redrive_clear(hash_key, ids_key)
  redis.call('HDEL', hash_key, unpack(REDRIVE_FIELDS))
  local n = redis.call('ZCARD', ids_key)
  if n > 0 then redis.call('ZPOPMIN', ids_key, n) end
end
