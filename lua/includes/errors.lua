-- Appends one error (a msgpack map made by the client or by a script) to a
-- job's error history: a msgpack array, newest last, at most `cap` entries.
-- The entry's `at` is set here, from the Redis clock.
local function push_error(errors_key, id, err_blob, cap, now)
  local list = {}
  local old = redis.call('HGET', errors_key, id)
  if old then
    local ok, decoded = pcall(cmsgpack.unpack, old)
    if ok and type(decoded) == 'table' then list = decoded end
  end
  local ok, err = pcall(cmsgpack.unpack, err_blob)
  if not ok or type(err) ~= 'table' then err = { message = 'unreadable error record' } end
  err.at = now
  list[#list + 1] = err
  while #list > cap do table.remove(list, 1) end
  redis.call('HSET', errors_key, id, cmsgpack.pack(list))
end
