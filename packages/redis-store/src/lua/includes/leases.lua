-- In-flight accounting. A lease is "<keyId>|<token>" in the leases ZSET scored by its expiry; the key's
-- `inflight` field counts its live leases. Releasing twice is harmless (ZREM says whether it was there).
local function releaseLease(leasesKey, statesKey, keyPrefix, member)
  if rcall('ZREM', leasesKey, member) == 0 then return end
  local id = string.match(member, '^(.-)|')
  -- A key removed by sync meanwhile has no HASH any more: do not recreate it.
  if id and rcall('HEXISTS', statesKey, id) == 1 then
    if rcall('HINCRBY', keyPrefix .. id, 'inflight', -1) < 0 then
      rcall('HSET', keyPrefix .. id, 'inflight', 0)
    end
  end
end

-- Leases of crashed replicas expire: drain a few per call so the cost stays bounded.
local function reapLeases(leasesKey, statesKey, keyPrefix, now, batch)
  local expired = rcall('ZRANGEBYSCORE', leasesKey, '-inf', now, 'LIMIT', 0, batch)
  for i = 1, #expired do
    releaseLease(leasesKey, statesKey, keyPrefix, expired[i])
  end
end
