-- State changes shared by the scripts. A key is in exactly one of: ring (active), cooling, parked
-- (suspended / disabled); `states` and the key's own HASH always say which.

-- The virtual time a (re)joining key starts at: the current lowest score, so it takes no burst.
local function currentVt(ringKey, metaKey)
  local lowest = rcall('ZRANGE', ringKey, 0, 0, 'WITHSCORES')
  if lowest[2] then return tonumber(lowest[2]) end
  return tonumber(rcall('HGET', metaKey, 'vt') or '0') or 0
end

-- Callers first take the key out of cooling / parked, whichever it is in.
local function rejoinRing(ringKey, statesKey, metaKey, keyHashKey, id)
  rcall('ZADD', ringKey, currentVt(ringKey, metaKey), id)
  rcall('HSET', statesKey, id, 'active')
  rcall('HSET', keyHashKey, 'state', 'active', 'reason', '', 'until', 0)
end

-- Cooling never shortens: a later `until` already set by another replica wins (ZADD GT).
local function toCooling(ringKey, coolingKey, statesKey, keyHashKey, id, untilMs, reason)
  rcall('ZREM', ringKey, id)
  rcall('ZADD', coolingKey, 'GT', untilMs, id)
  local effective = rcall('ZSCORE', coolingKey, id)
  rcall('HSET', statesKey, id, 'cooling')
  rcall('HSET', keyHashKey, 'state', 'cooling', 'reason', reason, 'until', effective)
  return tonumber(effective)
end

-- suspended / disabled: out until the worker's probe (or an operator) brings the key back.
local function toParked(ringKey, coolingKey, parkedKey, statesKey, keyHashKey, id, state, reason, now)
  rcall('ZREM', ringKey, id)
  rcall('ZREM', coolingKey, id)
  rcall('ZADD', parkedKey, now, id)
  rcall('HSET', statesKey, id, state)
  rcall('HSET', keyHashKey, 'state', state, 'reason', reason, 'until', 0, 'parked_at', now)
end

-- A request's answer may take a key out of rotation only while its client has taken fewer than
-- `limit` keys out in the last `windowMs` (0: no limit): logs the take-out when it is allowed.
local function clientMayTakeOut(clientOutKey, limit, windowMs, id, now)
  if limit <= 0 then return true end
  rcall('ZREMRANGEBYSCORE', clientOutKey, '-inf', now - windowMs)
  if rcall('ZCARD', clientOutKey) >= limit then return false end
  rcall('ZADD', clientOutKey, now, id .. '|' .. now)
  rcall('PEXPIRE', clientOutKey, windowMs)
  return true
end
