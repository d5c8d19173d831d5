--[[
  Operator and worker actions on one key.

  Input:
    KEYS[1] ring   KEYS[2] cooling   KEYS[3] parked   KEYS[4] states   KEYS[5] meta
    KEYS[6] the key's detail HASH

    ARGV[1] keyId
    ARGV[2] action:
              disable    operator takes the key out (reason operator; nothing brings it back but enable)
              enable     operator puts the key back in rotation from any state, forgetting failures
              clear      end a cooldown now (no-op unless cooling)
              reinstate  the worker's probe succeeded: suspended, or disabled by upstream, -> active
              suspend    the worker's probe says still out (keeps parked; updates reason)
              invalidate the worker's probe got 401/403 -> disabled (unless the operator disabled it)
    ARGV[3] reason to record (suspend / invalidate; '' otherwise)

  Output:
    { state, changed }   state after the action; changed = 1 when it moved the key
    { -1 }               unknown key
    { -2, state }        action refused: the key is disabled by an operator (worker actions only)
]]
local rcall = redis.call
--- @include "now"
--- @include "transitions"

local ringKey, coolingKey, parkedKey, statesKey, metaKey, detailKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, action, reason = ARGV[1], ARGV[2], ARGV[3]

local state = rcall('HGET', statesKey, id)
if not state then return { -1 } end
local now = nowMs()
local byOperator = state == 'disabled' and rcall('HGET', detailKey, 'reason') == 'operator'

local function activate()
  rcall('ZREM', coolingKey, id)
  rcall('ZREM', parkedKey, id)
  rejoinRing(ringKey, statesKey, metaKey, detailKey, id)
  rcall('HSET', detailKey, 'fails', 0, 'rl_streak', 0)
  rcall('HDEL', detailKey, 'rem_req', 'reset_req_at', 'seen_req', 'rem_slack', 'rem_tok', 'reset_tok_at', 'seen_tok')
end

local after = state
if action == 'disable' then
  toParked(ringKey, coolingKey, parkedKey, statesKey, detailKey, id, 'disabled', 'operator', now)
  after = 'disabled'
elseif action == 'enable' then
  if state ~= 'active' then activate() end
  after = 'active'
elseif action == 'clear' then
  if state == 'cooling' then
    activate()
    after = 'active'
  end
else
  if byOperator then return { -2, state } end
  if action == 'reinstate' then
    if state == 'suspended' or state == 'disabled' then
      activate()
      after = 'active'
    end
  elseif action == 'suspend' then
    if state == 'suspended' then
      rcall('HSET', detailKey, 'reason', reason)
    end
  elseif action == 'invalidate' then
    toParked(ringKey, coolingKey, parkedKey, statesKey, detailKey, id, 'disabled', reason, now)
    after = 'disabled'
  else
    return redis.error_reply('ERR unknown action ' .. action)
  end
end
local changed = 0
if after ~= state then changed = 1 end
return { after, changed }
