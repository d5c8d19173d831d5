-- In-flight accounting. A lease is "<keyId>|<token>" in the pool's leases ZSET, scored by its expiry
-- (so leases of a crashed replica can be found and dropped), and "<token>" in the key's own
-- "<keyPrefix><keyId>:inflight" ZSET, scored by its hand-out number (so a report can count the requests
-- handed out after it). Releasing twice is harmless: ZREM says whether the lease was still there.
local function releaseLease(leasesKey, keyPrefix, member)
  if rcall('ZREM', leasesKey, member) == 0 then return end
  local id, token = string.match(member, '^(.-)|(.*)$')
  if id then rcall('ZREM', keyPrefix .. id .. ':inflight', token) end
end

-- Leases of crashed replicas expire: drain a few per call so the cost stays bounded.
local function reapLeases(leasesKey, keyPrefix, now, batch)
  local expired = rcall('ZRANGEBYSCORE', leasesKey, '-inf', now, 'LIMIT', 0, batch)
  for i = 1, #expired do
    releaseLease(leasesKey, keyPrefix, expired[i])
  end
end
