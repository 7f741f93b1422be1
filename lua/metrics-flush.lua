-- metrics-flush: a worker adds what it observed since its last flush (wait
-- and processing time histograms) to the queue's `metrics` hash, where the
-- observations of every worker sum up; at close it also removes its entry
-- from `workers`. Entries of workers that are gone (past their `until`) are
-- dropped, a few per call.
--
-- KEYS[1] metrics  hash    counters and histogram buckets
-- KEYS[2] workers  hash    worker id -> "<busy>,<slots>,<until ms>"
--
-- ARGV[1] gone   string  this worker's id when it closes ('' otherwise)
-- ARGV[2..] deltas  {field: string, by: float}  what to add to each field
--
-- Reply: code
-- Returns OK.
--!include codes
--!include now

for i = 1, A.deltas_n do
  local field, by = deltas(i)
  -- HINCRBY for whole numbers; a fraction, or a field that holds one already (a sum after a
  -- fractional flush, which HINCRBY refuses), goes through HINCRBYFLOAT
  if math.floor(by) ~= by or not pcall(redis.call, 'HINCRBY', K.metrics, field, by) then
    redis.call('HINCRBYFLOAT', K.metrics, field, by)
  end
end
if A.gone ~= '' then redis.call('HDEL', K.workers, A.gone) end
local now = now_ms()
local cursor = redis.call('HSCAN', K.workers, 0, 'COUNT', 20)
local drop = {}
for i = 1, #cursor[2], 2 do
  -- "<busy>,<slots>,<until>[,<seen>]" (includes/workers.lua; older workers wrote no `seen`)
  local untl = tonumber(string.match(cursor[2][i + 1], '^%d+,%d+,(%d+)'))
  if untl and untl < now then drop[#drop + 1] = cursor[2][i] end
end
if #drop > 0 then redis.call('HDEL', K.workers, unpack(drop)) end
return CODE.OK
