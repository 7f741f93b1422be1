/**
 * Outcome codes returned by kyoo's Lua scripts. Mirrors `lua/includes/codes.lua`
 * (a test keeps the two equal).
 */
export enum ResultCode {
  /** The operation was applied. */
  OK = 0,
  /** The fencing token is not the job's current lease: refused, nothing changed. */
  LEASE_LOST = 1,
  /** No job with that id; redrive-run / redrive-drop: no redrive task. */
  NOT_FOUND = 2,
  /** enqueue: a job with that id exists already and was left as it was; redrive-build: an unfinished redrive task exists. */
  DUPLICATE = 3,
  /** replay / purge / redrive: the job exists but is not in the dead-letter queue. */
  NOT_DEAD = 4,
  /** ack: this same ack was applied before (a resend after a reconnect); cancel: the job had ended already; redrive-run: the task is done. Nothing changed. */
  DONE_ALREADY = 5,
  /** ack / fail / extend: the job was cancelled while it ran; nothing changed. */
  CANCELLED = 6,
  /** enqueue: the queue holds its policy's maxWaiting jobs; nothing was written for this job. */
  QUEUE_FULL = 7,
  /** enqueue: a job holds this dedup key; its id is returned (debounce: its data and run-at were replaced). */
  DEDUPLICATED = 8,
  /** cancel: the job is running; it is cancelled, and its worker's signal fires at the worker's next heartbeat. */
  RUNNING = 9,
  /**
   * schedule-fire / schedule-pause: the schedule is not as the caller read it (another firer won, it was changed, paused or removed);
   * replay / purge: the job is dead, but not in the death the caller saw (it was replayed and died again since);
   * redrive: the task is not the caller's (another replaced it) or is still being prepared. Nothing changed.
   */
  STALE = 10,
  /** run-now: the job exists but waits for no run-at (it is ready, running or has ended); nothing changed. */
  NOT_DELAYED = 11,
}
