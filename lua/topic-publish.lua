-- topic-publish: one message into every queue subscribed to a topic, in one
-- atomic call (a single Redis server: every queue's keys are on it). The
-- caller read the subscriber list at revision `rev` and passes each queue's
-- keys; if the list changed since, nothing is written (STALE) and the caller
-- reads it again. Each queue gets the job `<topic>:<message id>`, added as
-- enqueue adds jobs (priorities, delays, events, wake-ups).
--
-- KEYS[1] topic_subs        hash    subscribed queues
-- KEYS[2] topic_rev         string  revision of the subscriber list
-- KEYS[3] topic_publishers  hash    publisher id -> its newest message applied
-- KEYS[4] topic_seen        zset    publisher id, scored by its last publish ms (includes/publishers.lua)
-- KEYS[5..] subs {jobs, ready, prio, priorities, delayed, meta, ids, wake, dedup, dedup_exp, events, metrics, group_of, group_queue, group_turn, group_wait, group_idle, groups, group_conf}
--
-- ARGV[1] rev        int     the revision the caller's subscriber list has
-- ARGV[2] publisher  string  random per publishing client
-- ARGV[3] message    int     the message id (from a block the publisher reserved on topic_ids)
-- ARGV[4] job_id     string  the job id in every subscriber queue
-- ARGV[5] delay      int     ms from now until the jobs may run
-- ARGV[6] opts       string  as enqueue's (priority, group; no dedup)
-- ARGV[7] record     bytes   the job record, the same for every queue
--
-- Reply: numbers
-- Returns {code, n}: OK with n queues written; STALE (the subscriber list is
-- not at `rev`: nothing written); DUPLICATE (this publisher's message was
-- applied before: a resend after a reconnect; nothing written); QUEUE_FULL
-- with n the 1-based index of a subscriber queue at its max_waiting (nothing
-- written anywhere).
--!include codes
--!include add
--!include publishers

local rev = tonumber(redis.call('GET', K.topic_rev) or '0')
if rev ~= A.rev or redis.call('HLEN', K.topic_subs) ~= K.subs_n then return { CODE.STALE, rev } end
local pk = { publishers = K.topic_publishers, seen = K.topic_seen }
local newest = publisher_newest(pk, A.publisher)
if A.message <= newest then return { CODE.DUPLICATE, 0 } end
for i = 1, K.subs_n do
  if add_room(subs(i)) < 1 then return { CODE.QUEUE_FULL, i } end
end
publisher_applied(pk, A.publisher, A.message)
local get = function() return A.job_id, false, A.delay, A.opts, A.record end
for i = 1, K.subs_n do add_jobs(subs(i), 1, get, false, 0) end
return { CODE.OK, K.subs_n } -- with no subscriber, nothing but the publisher's newest id is written
