-- Transition "return to rotation": a key rejoins the rings, or a bucket's cooldown ends. A key is in
-- group g's ring exactly when it is active and its bucket (account, g) is not cooling.

-- The virtual time a (re)joining key starts at in a group's ring: the current lowest score, so it
-- takes no burst.
local function currentVt(base, group)
  local lowest = rcall('ZRANGE', ringOf(base, group), 0, 0, 'WITHSCORES')
  if lowest[2] then return tonumber(lowest[2]) end
  return tonumber(rcall('HGET', base .. 'groups', group) or '0') or 0
end

-- An active key into the ring of every group whose bucket of its account is not cooling.
local function joinRings(base, id, account)
  for _, group in ipairs(groupsOf(base)) do
    if not rcall('ZSCORE', coolingOf(base, group), account) then
      rcall('ZADD', ringOf(base, group), currentVt(base, group), id)
    end
  end
end

-- A key back in rotation (added, reinstated, enabled). Callers take it out of `parked` first.
local function returnKey(base, id)
  local account = accountOf(id, rcall('HGET', keyOf(base, id), 'account'))
  rcall('HSET', base .. 'states', id, 'active')
  rcall('HSET', keyOf(base, id), 'state', 'active', 'reason', '')
  joinRings(base, id, account)
end

-- A bucket's cooldown is over: its account's active keys rejoin the group's ring.
local function returnBucket(base, account, group)
  rcall('ZREM', coolingOf(base, group), account)
  local bucket = bucketOf(base, account, group)
  if rcall('EXISTS', bucket) == 1 then rcall('HSET', bucket, 'until', 0, 'reason', '') end
  local ring, vt = ringOf(base, group), currentVt(base, group)
  for _, id in ipairs(keysOf(base, account)) do
    if rcall('HGET', base .. 'states', id) == 'active' then rcall('ZADD', ring, vt, id) end
  end
end

-- A new group: its ring starts with every active key (once per group, O(n)).
local function addGroup(base, group)
  rcall('HSET', base .. 'groups', group, 0)
  local states = rcall('HGETALL', base .. 'states')
  local ring = ringOf(base, group)
  for i = 1, #states, 2 do
    if states[i + 1] == 'active' then rcall('ZADD', ring, 0, states[i]) end
  end
end

-- The group a request is counted in: its own when the pool tracks it or has room for one more (meta
-- max_groups, set by sync: configured groups + maxModelGroups + 'default' + 'other'; then its ring
-- starts with every active key: once per group, O(n)), else 'other', so invented model names cannot
-- grow Redis.
local function ensureGroup(base, group)
  local groups = base .. 'groups'
  if rcall('HEXISTS', groups, group) == 1 then return group end
  local maxGroups = tonumber(rcall('HGET', base .. 'meta', 'max_groups')) or 18
  if rcall('HLEN', groups) >= maxGroups and group ~= 'other' then
    group = 'other'
    if rcall('HEXISTS', groups, group) == 1 then return group end
  end
  addGroup(base, group)
  return group
end
