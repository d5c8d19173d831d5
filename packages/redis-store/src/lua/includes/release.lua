-- Transition "release": a lease ends. A lease is "<keyId>|<token>|<account>|<group>" in the pool's
-- `leases` ZSET, scored by its expiry (so leases of a crashed replica can be found and dropped), and
-- "<token>" in its bucket's ":inflight" ZSET, scored by the tokens it reserved (their sum is the
-- bucket's `inflight_tok`); the key's `inflight` counts its leases. Releasing twice is harmless: ZREM
-- says whether the lease was still there, and the function returns that.
-- Takes the lease out of `leases`, the group's `cold` SET and its bucket's ":inflight" ZSET. Returns
-- the tokens it had reserved (0 when none), or nil when it was not held. The bucket's `inflight_tok`
-- and the key's `inflight` are the caller's to lower: report-2.lua folds them into its own writes.
local function takeLease(base, id, token, account, group)
  if rcall('ZREM', base .. 'leases', id .. '|' .. token .. '|' .. account .. '|' .. group) == 0 then return nil end
  -- Only a key of unknown account (its own, '~<id>') puts a request in the group's cold SET (reserve).
  if string.sub(account, 1, 1) == '~' then rcall('SREM', coldOf(base, group), token) end
  local inflight = bucketOf(base, account, group) .. ':inflight'
  local reserved = tonumber(rcall('ZSCORE', inflight, token))
  if reserved and rcall('ZREM', inflight, token) == 1 then return reserved end
  return 0
end

local function releaseLease(base, member)
  local id, token, account, group = string.match(member, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if not id then return rcall('ZREM', base .. 'leases', member) == 1 end
  local reserved = takeLease(base, id, token, account, group)
  if not reserved then return false end
  local bucket = bucketOf(base, account, group)
  if reserved > 0 and rcall('EXISTS', bucket) == 1 then rcall('HINCRBY', bucket, 'inflight_tok', -reserved) end
  local key = keyOf(base, id)
  if (tonumber(rcall('HGET', key, 'inflight')) or 0) > 0 then rcall('HINCRBY', key, 'inflight', -1) end
  return true
end

-- Leases of crashed replicas expire: drain a few per call so the cost stays bounded.
local function reapLeases(base, now, batch)
  local expired = rcall('ZRANGEBYSCORE', base .. 'leases', '-inf', now, 'LIMIT', 0, batch)
  for i = 1, #expired do releaseLease(base, expired[i]) end
end
