-- Transition "cool": a bucket (account, model group) is out of that group's rotation until untilMs:
-- every key of the account leaves the group's ring; its other groups are untouched. Cooling never
-- shortens: a later `until` already set by another replica wins (ZADD GT). Returns the effective until.
local function coolBucket(base, account, group, untilMs, reason)
  local cooling = coolingOf(base, group)
  rcall('ZADD', cooling, 'GT', untilMs, account)
  local effective = tonumber(rcall('ZSCORE', cooling, account))
  local ring = ringOf(base, group)
  for _, id in ipairs(keysOf(base, account)) do rcall('ZREM', ring, id) end
  rcall('HSET', bucketOf(base, account, group), 'until', effective, 'reason', reason)
  return effective
end
