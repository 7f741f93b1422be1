-- topic-deliver: on a Redis Cluster, adds a topic's outbox entries to one
-- subscriber queue (those that name it), in the queue's own slot, exactly once: the queue keeps
-- the id of the last entry it took (`topics`, per topic), written in the same
-- call as the jobs, so an entry offered again (by another deliverer, or after
-- a crash before the outbox was trimmed) is skipped.
--
-- KEYS[1]  jobs        hash
-- KEYS[2]  ready       list
-- KEYS[3]  prio        zset
-- KEYS[4]  priorities  hash
-- KEYS[5]  delayed     zset
-- KEYS[6]  meta        hash
-- KEYS[7]  ids         string
-- KEYS[8]  wake        list
-- KEYS[9]  dedup       hash
-- KEYS[10] dedup_exp   zset
-- KEYS[11] events      stream
-- KEYS[12] topics      hash    topic -> id of the last outbox entry taken
-- KEYS[13] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[14] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[15] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[16] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[17] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[18] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[19] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[20] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] topic  string
-- ARGV[2..] entries  {entry: string, job_id: string, delay: int, opts: string, record: bytes}  in outbox order
--
-- Reply: numbers
-- Returns {code, taken}: OK with the number of the offered entries the
-- queue has now (entries up to its place are skipped as taken before; of the
-- rest, as many as its max_waiting lets in are added, in order, and its place
-- moves to the last of them); QUEUE_FULL when none fits (nothing written:
-- offer them again later).
--!include codes
--!include add
--!include stream-ids

local place = redis.call('HGET', K.topics, A.topic) or '0-0'
local fresh, taken = {}, 0
for i = 1, A.entries_n do
  local entry, job_id, delay, opts, record = entries(i)
  if id_before(place, entry) then fresh[#fresh + 1] = { entry, job_id, delay, opts, record } else taken = i end
end
if #fresh == 0 then return { CODE.OK, taken } end
local k = { jobs = K.jobs, ready = K.ready, prio = K.prio, priorities = K.priorities, delayed = K.delayed,
  meta = K.meta, ids = K.ids, wake = K.wake, dedup = K.dedup, dedup_exp = K.dedup_exp, events = K.events, metrics = K.metrics,
  group_of = K.group_of, group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait,
  group_idle = K.group_idle, groups = K.groups, group_conf = K.group_conf }
local room = add_room(k)
if room < 1 then return { CODE.QUEUE_FULL, taken } end
while #fresh > room do table.remove(fresh) end
add_jobs(k, #fresh, function(i)
  local f = fresh[i]
  return f[2], false, f[3], f[4], f[5]
end, false, 0)
redis.call('HSET', K.topics, A.topic, fresh[#fresh][1])
return { CODE.OK, taken + #fresh }
