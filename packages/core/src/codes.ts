/**
 * Outcome codes returned by kyoo's Lua scripts. Mirrors `lua/includes/codes.lua`
 * (a test keeps the two equal).
 */
export enum ResultCode {
  /** The operation was applied. */
  OK = 0,
  /** The fencing token is not the job's current lease: refused, nothing changed. */
  LEASE_LOST = 1,
  /** No job with that id. */
  NOT_FOUND = 2,
  /** enqueue: a job with that id exists already and was left as it was. */
  DUPLICATE = 3,
  /** replay / purge: the job exists but is not in the dead-letter queue. */
  NOT_DEAD = 4,
  /** ack: this same ack was applied before (a resend after a reconnect); nothing changed. Known for kept jobs only. */
  DONE_ALREADY = 5,
}
