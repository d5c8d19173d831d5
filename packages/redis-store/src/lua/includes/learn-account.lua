-- Transition "learn account": which account (organization) a key belongs to, declared in the config or
-- named by an answer's headers. Keys of one account share its buckets.

-- An account no key belongs to any more: its buckets go (each is bounded by the groups count).
local function forgetAccount(base, account)
  for _, group in ipairs(groupsOf(base)) do
    local bucket = bucketOf(base, account, group)
    rcall('DEL', bucket, bucket .. ':inflight', bucket .. ':log', bucket .. ':tlog')
    rcall('ZREM', coolingOf(base, group), account)
    rcall('SREM', base .. 'buckets', account .. '|' .. group)
  end
end

-- The hand-outs under declared windows of an account about to be forgotten go to the key's new
-- account: they were sent against that account's limits all along (newest first, as reserve keeps them).
local function carryWindows(base, from, to)
  for _, group in ipairs(groupsOf(base)) do
    local src, dst = bucketOf(base, from, group), bucketOf(base, to, group)
    for _, list in ipairs({ ':log', ':tlog' }) do
      local moved = rcall('LRANGE', src .. list, 0, -1)
      if #moved > 0 then
        local entries = rcall('LRANGE', dst .. list, 0, -1)
        for _, e in ipairs(moved) do entries[#entries + 1] = e end
        local at = function(e) return tonumber(string.match(e, '^(%d+)')) end
        table.sort(entries, function(a, b) return at(a) > at(b) end)
        local ttl = math.max(rcall('PTTL', src .. list), rcall('PTTL', dst .. list))
        rcall('DEL', dst .. list)
        rcall('RPUSH', dst .. list, unpack(entries))
        if ttl > 0 then rcall('PEXPIRE', dst .. list, ttl) end
        if list == ':tlog' then
          local sum = 0
          for _, e in ipairs(entries) do sum = sum + tonumber(string.match(e, ':(%d+)$')) end
          rcall('HSET', dst, 'tlog_sum', sum)
        end
      end
    end
  end
end

-- The key now belongs to `named` ('' for none: its own account). Its place in each group's ring
-- follows the new account's buckets (out where that one cools, in where it does not); an account
-- left without keys is forgotten. Returns whether anything changed. O(groups).
local function moveAccount(base, id, named)
  local key = keyOf(base, id)
  local oldNamed = rcall('HGET', key, 'account') or ''
  if oldNamed == named then return false end
  local old, new = accountOf(id, oldNamed), accountOf(id, named)
  if oldNamed ~= '' then rcall('SREM', base .. 'account:' .. oldNamed, id) end
  if named ~= '' then
    rcall('SADD', base .. 'account:' .. named, id)
    rcall('HSET', key, 'account', named)
  else
    rcall('HDEL', key, 'account')
  end
  local active = rcall('HGET', base .. 'states', id) == 'active'
  for _, group in ipairs(groupsOf(base)) do
    local ring = ringOf(base, group)
    if active and not rcall('ZSCORE', coolingOf(base, group), new) then
      if not rcall('ZSCORE', ring, id) then rcall('ZADD', ring, currentVt(base, group), id) end
    else
      rcall('ZREM', ring, id)
    end
  end
  if oldNamed == '' or rcall('SCARD', base .. 'account:' .. oldNamed) == 0 then
    carryWindows(base, old, new)
    forgetAccount(base, old)
  end
  return true
end
