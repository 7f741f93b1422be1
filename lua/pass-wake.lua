-- pass-wake: a worker whose due timer fired (a delayed job is due, a lease
-- expires, a limit lets a job start) while all its slots are busy passes the
-- wake-up on to an idle worker, which may have no timer of its own for it.
--
-- KEYS[1] wake  list  at most one token (includes/wake.lua)
--
-- Reply: code
-- Returns OK.
--!include codes
--!include wake

wake(K.wake)
return CODE.OK
