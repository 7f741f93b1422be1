-- enqueue: add one or more jobs atomically (add, addBulk and same-tick adds
-- batched by the client all arrive here as one call).
--
-- KEYS[1]  jobs        hash    job id -> record
-- KEYS[2]  ready       list    jobs due now without a priority are appended here
-- KEYS[3]  prio        zset    jobs due now with a priority
-- KEYS[4]  priorities  hash    job id -> priority, for jobs with one
-- KEYS[5]  delayed     zset    jobs with a delay, scored by run-at ms
-- KEYS[6]  meta        hash    policy: max_waiting, aging_ms
-- KEYS[7]  ids         string  counter for generated ids (clients reserve blocks of it)
-- KEYS[8]  wake        list    wake token for idle workers
-- KEYS[9]  dedup       hash    dedup key -> id of the job holding it
-- KEYS[10] dedup_exp   zset    dedup keys with a window, scored by its end ms
-- KEYS[11] events      stream  `added` per job added (includes/events.lua)
-- KEYS[12] metrics     hash   counters of events by kind (includes/events.lua)
-- KEYS[13] group_of    hash   grouped job id -> "<seq><held><group>" (includes/groups.lua)
-- KEYS[14] group_queue zset   grouped jobs waiting: "<group>\0<seq>\0<id>", all scored 0
-- KEYS[15] group_turn  zset   groups that may start a job, by virtual time
-- KEYS[16] group_wait  zset   groups whose next start is not allowed yet, by when it is (ms)
-- KEYS[17] group_idle  zset   idle groups whose rate state is in use, by when it is not (ms)
-- KEYS[18] groups      hash   group -> "<waiting>,<running>,<rate tat>"
-- KEYS[19] group_conf  hash   group -> its own limits "<concurrency>,<rate max>,<rate ms>,<weight>"
--
-- ARGV[1] all_or_nothing  bool  1 = if max_waiting refuses one job, refuse all (addBulk)
-- ARGV[2] reserve         int   jobs of the same addBulk still to come in later calls (they need room too)
-- ARGV[3] jobs packed {id: string, gen: bool, delay: int, opts: string, record: bytes}
--   id: the job id; gen: an id the client took from a block it reserved on `ids`
--   (see IdBlocks), not the caller's own; delay: ms from now until it may run;
--   opts: '' for a job without priority, dedup or group (most jobs: one short
--   argument), else "<priority>:<dedup_mode>:<dedup_ms>:<group length>:<group><dedup key>"
--   (mode 0 none, 1 until the job completes, 2 a window from the first add, 3
--   debounce; dedup_ms the window, 0 = none for mode 1; group '' = none)
--
-- Reply: enqueue
-- Returns a flat array {id1, code1, id2, code2, ...} in input order:
--   OK; DUPLICATE: a caller's own id that exists already (changes nothing:
--   adds with ids are idempotent); DEDUPLICATED: a live job holds the dedup
--   key, its id is returned (debounce: its record is replaced and its run-at
--   pushed to now + dedup_ms); QUEUE_FULL: max_waiting reached, nothing
--   written for it. A generated id that exists with the same record is this
--   very add sent twice (a client resends a command whose reply was lost in a
--   reconnect): OK, nothing changes. A generated id that exists with another
--   record (the counter went back) gets a fresh id from `ids`: OK.
--!include add

return add_jobs({ jobs = K.jobs, ready = K.ready, prio = K.prio, priorities = K.priorities, delayed = K.delayed,
  meta = K.meta, ids = K.ids, wake = K.wake, dedup = K.dedup, dedup_exp = K.dedup_exp, events = K.events, metrics = K.metrics,
  group_of = K.group_of, group_queue = K.group_queue, group_turn = K.group_turn, group_wait = K.group_wait,
  group_idle = K.group_idle, groups = K.groups, group_conf = K.group_conf },
  A.jobs_n, function(i) return jobs(i) end, A.all_or_nothing, A.reserve)
