-- What a worker says of its slots with each lease and ack call, for the
-- busy/idle slot gauges: `worker` is "<id>,<busy>,<slots>,<ttl ms>" ('' =
-- nothing to say); the `workers` hash keeps "<busy>,<slots>,<until ms>,<seen ms>". An
-- idle worker calls at least every maxIdleMs, so an entry past its `until`
-- belongs to a worker that is gone.
local function worker_seen(workers_key, worker, now)
  if worker == '' then return end
  local id, busy, slots, ttl = string.match(worker, '^(.+),(%d+),(%d+),(%d+)$')
  if id then redis.call('HSET', workers_key, id, busy .. ',' .. slots .. ',' .. string.format('%d', now + tonumber(ttl)) .. ',' .. string.format('%d', now)) end
end
