--[[
  Operator and worker actions on one key.

  Input:
    KEYS[1] the pool's base "<prefix>:{<pool>}:"

    ARGV[1] keyId
    ARGV[2] action:
              disable    operator takes the key out (reason operator; nothing brings it back but enable)
              enable     operator puts the key back in rotation from any state, forgetting failures,
                         and ends the cooldowns of its account's buckets
              clear      end the cooldowns of the key's account's buckets now, forgetting what they
                         learned (no-op when none cools)
              reinstate  the worker's probe succeeded: suspended, or disabled by upstream, -> active
              suspend    the worker's probe says still out (keeps parked; updates reason)
              invalidate the worker's probe got 401/403 -> disabled (unless the operator disabled it)
    ARGV[3] reason to record (suspend / invalidate; '' otherwise)

  Output:
    { state, changed }   the key's state after the action; changed = 1 when it moved the key or
                         ended a cooldown
    { -1 }               unknown key
    { -2, state }        action refused: the key is disabled by an operator (worker actions only)
]]
local rcall = redis.call
--- @include "now"
--- @include "names"
--- @include "return-to-rotation"
--- @include "park"

local base = KEYS[1]
local id, action, reason = ARGV[1], ARGV[2], ARGV[3]
local key = keyOf(base, id)

local state = rcall('HGET', base .. 'states', id)
if not state then return { -1 } end
local now = nowMs()
local byOperator = state == 'disabled' and rcall('HGET', key, 'reason') == 'operator'
local changed = 0

local function activate()
  rcall('ZREM', base .. 'parked', id)
  returnKey(base, id)
  rcall('HSET', key, 'fails', 0)
  changed = 1
end

-- Every cooling bucket of the key's account returns, and forgets what it learned (the operator knows
-- better, e.g. after raising the account's limits).
local function clearBuckets()
  local account = accountOf(id, rcall('HGET', key, 'account'))
  for _, group in ipairs(groupsOf(base)) do
    if rcall('ZSCORE', coolingOf(base, group), account) then
      returnBucket(base, account, group)
      rcall('HDEL', bucketOf(base, account, group), 'rem_req', 'reset_req_at', 'seen_req', 'rem_slack', 'rem_tok', 'reset_tok_at', 'seen_tok')
      rcall('HSET', bucketOf(base, account, group), 'rl_streak', 0)
      changed = 1
    end
  end
end

if action == 'disable' then
  if state ~= 'disabled' then changed = 1 end
  parkKey(base, id, 'disabled', 'operator', now)
elseif action == 'enable' then
  if state ~= 'active' then activate() end
  clearBuckets()
elseif action == 'clear' then
  if state == 'active' then clearBuckets() end
else
  if byOperator then return { -2, state } end
  if action == 'reinstate' then
    if state == 'suspended' or state == 'disabled' then activate() end
  elseif action == 'suspend' then
    if state == 'suspended' then rcall('HSET', key, 'reason', reason) end
  elseif action == 'invalidate' then
    if state ~= 'disabled' then changed = 1 end
    parkKey(base, id, 'disabled', reason, now)
  else
    return redis.error_reply('ERR unknown action ' .. action)
  end
end
return { rcall('HGET', base .. 'states', id), changed }
