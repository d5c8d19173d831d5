-- Transition "park": a key is suspended / disabled, out of every group's rotation until the worker's
-- probe (or an operator) brings it back.
local function parkKey(base, id, state, reason, now)
  for _, group in ipairs(groupsOf(base)) do rcall('ZREM', ringOf(base, group), id) end
  rcall('ZADD', base .. 'parked', now, id)
  rcall('HSET', base .. 'states', id, state)
  rcall('HSET', keyOf(base, id), 'state', state, 'reason', reason, 'parked_at', now)
end

-- A request's answer may take keys out of rotation only while its client has taken fewer than
-- `limit` out in the last `windowMs` (0: no limit): logs the take-out when it is allowed.
local function clientMayTakeOut(clientOutKey, limit, windowMs, id, now)
  if limit <= 0 then return true end
  rcall('ZREMRANGEBYSCORE', clientOutKey, '-inf', now - windowMs)
  if rcall('ZCARD', clientOutKey) >= limit then return false end
  rcall('ZADD', clientOutKey, now, id .. '|' .. now)
  rcall('PEXPIRE', clientOutKey, windowMs)
  return true
end
