-- redrive-drop: forget the queue's redrive task (an operator's choice: the
-- jobs it has not replayed stay dead, as they are). A runner of the task
-- stops at its next call (NOT_FOUND).
--
-- KEYS[1] redrive      hash
-- KEYS[2] redrive_ids  zset
--
-- ARGV[1] task  string  the task's id, or '' for whichever task there is
--
-- Reply: code
-- Returns OK; NOT_FOUND when there is no task, STALE when the task is
-- another than `task` (nothing written).
--!include codes
--!include redrive

local id = redis.call('HGET', K.redrive, 'id')
if not id then return CODE.NOT_FOUND end
if A.task ~= '' and id ~= A.task then return CODE.STALE end
redrive_clear(K.redrive, K.redrive_ids)
return CODE.OK
