-- Deduplication entries: `dedup` maps a dedup key to the id of the job that
-- holds it, `dedup_exp` scores keys with a window by when it ends (ms). `d` is
-- { dedup, dedup_exp } (key names).

-- The id holding `key` now, or nil (an entry past its window is gone).
local function dedup_holder(d, key, now)
  local id = redis.call('HGET', d.dedup, key)
  if not id then return nil end
  local ends = tonumber(redis.call('ZSCORE', d.dedup_exp, key))
  if ends and ends <= now then return nil end
  return id
end

-- Whether `key` is held for a window (it then stays held after its job ended).
local function dedup_window(d, key)
  return redis.call('ZSCORE', d.dedup_exp, key) ~= false
end

-- `id` holds `key`, until `ends` (ms; 0 = until released).
local function dedup_hold(d, key, id, ends)
  redis.call('HSET', d.dedup, key, id)
  if ends > 0 then redis.call('ZADD', d.dedup_exp, ends, key) else redis.call('ZREM', d.dedup_exp, key) end
end

-- Frees `key` if `id` still holds it (a job that ended frees its own key only).
local function dedup_release(d, key, id)
  if key and key ~= '' and redis.call('HGET', d.dedup, key) == id then
    redis.call('HDEL', d.dedup, key)
    redis.call('ZREM', d.dedup_exp, key)
  end
end

-- Drops up to 100 entries whose window ended.
local function dedup_sweep(d, now)
  local old = redis.call('ZRANGEBYSCORE', d.dedup_exp, '-inf', now, 'LIMIT', 0, 100)
  if #old > 0 then
    redis.call('ZREM', d.dedup_exp, unpack(old))
    redis.call('HDEL', d.dedup, unpack(old))
  end
end
