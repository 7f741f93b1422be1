-- Result codes returned by kyoo scripts, one per outcome. Mirrored by the
-- ResultCode enum in packages/core/src/codes.ts; a test keeps the two equal.
local CODE = {
  OK = 0,          -- the operation was applied
  LEASE_LOST = 1,  -- the fencing token is not the job's current lease: refused, nothing changed
  NOT_FOUND = 2,   -- no job with that id
  DUPLICATE = 3,   -- enqueue: a job with that id exists already; it was left as it was
  NOT_DEAD = 4,    -- replay / purge: the job exists but is not in the dead-letter queue
  DONE_ALREADY = 5, -- ack: this same ack was applied before (a resend); nothing changed
}
