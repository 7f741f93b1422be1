-- Result codes returned by kyoo scripts, one per outcome. Mirrored by the
-- ResultCode enum in packages/core/src/codes.ts; a test keeps the two equal.
local CODE = {
  OK = 0,           -- the operation was applied
  LEASE_LOST = 1,   -- the fencing token is not the job's current lease: refused, nothing changed
  NOT_FOUND = 2,    -- no job with that id; redrive-run / redrive-drop: no redrive task
  DUPLICATE = 3,    -- enqueue: a job with that id exists already; it was left as it was; redrive-build: an unfinished redrive task exists
  NOT_DEAD = 4,     -- replay / purge / redrive: the job exists but is not in the dead-letter queue
  DONE_ALREADY = 5, -- ack: this same ack was applied before (a resend); cancel: the job had ended already; redrive-run: the task is done
  CANCELLED = 6,    -- ack / fail / extend: the job was cancelled while it ran; nothing changed
  QUEUE_FULL = 7,   -- enqueue: the queue holds max_waiting jobs; nothing written for this job
  DEDUPLICATED = 8, -- enqueue: a job holds this dedup key; its id is returned (debounce: its data and run-at were replaced)
  RUNNING = 9,      -- cancel: the job is running; it is cancelled, and its worker's signal fires at its next heartbeat
  STALE = 10,       -- schedule-fire / schedule-pause: the schedule is not as the caller read it (another firer won, it was changed, paused or removed); replay / purge: the job is dead, but not in the death the caller saw (replayed and dead again since); redrive: the task is not the caller's (replaced) or is still being prepared; nothing changed
  NOT_DELAYED = 11, -- run-now: the job exists but waits for no run-at (it is ready, running or has ended); nothing changed
}
