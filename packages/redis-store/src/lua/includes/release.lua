-- Transition "release": a lease ends. A lease is "<keyId>|<token>|<account>|<group>" in the pool's
-- `leases` ZSET, scored by its expiry (so leases of a crashed replica can be found and dropped), and
-- "<token>" in its bucket's ":inflight" ZSET, scored by the tokens it reserved (their sum is the
-- bucket's `inflight_tok`); the key's `inflight` counts its leases. Releasing twice is harmless: ZREM
-- says whether the lease was still there, and the function returns that.
local function releaseLease(base, member)
  if rcall('ZREM', base .. 'leases', member) == 0 then return false end
  local id, token, account, group = string.match(member, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if not id then return true end
  -- Only a key of unknown account (its own, '~<id>') puts a request in the group's cold SET (reserve).
  if string.sub(account, 1, 1) == '~' then rcall('SREM', coldOf(base, group), token) end
  local bucket = bucketOf(base, account, group)
  local reserved = tonumber(rcall('ZSCORE', bucket .. ':inflight', token))
  if reserved and rcall('ZREM', bucket .. ':inflight', token) == 1 and reserved > 0 and rcall('EXISTS', bucket) == 1 then
    rcall('HINCRBY', bucket, 'inflight_tok', -reserved)
  end
  local key = keyOf(base, id)
  if (tonumber(rcall('HGET', key, 'inflight')) or 0) > 0 then rcall('HINCRBY', key, 'inflight', -1) end
  return true
end

-- Leases of crashed replicas expire: drain a few per call so the cost stays bounded.
local function reapLeases(base, now, batch)
  local expired = rcall('ZRANGEBYSCORE', base .. 'leases', '-inf', now, 'LIMIT', 0, batch)
  for i = 1, #expired do releaseLease(base, expired[i]) end
end
