-- In-flight accounting. A lease is "<keyId>|<token>" in the pool's leases ZSET, scored by its expiry
-- (so leases of a crashed replica can be found and dropped), and "<token>" in the key's own
-- "<keyPrefix><keyId>:inflight" ZSET, scored by the tokens it reserved (their sum is the key's
-- `inflight_tok`). Releasing twice is harmless: ZREM says whether the lease was still there, and the
-- function returns that.
local function releaseLease(leasesKey, keyPrefix, member)
  if rcall('ZREM', leasesKey, member) == 0 then return false end
  local id, token = string.match(member, '^(.-)|(.*)$')
  if not id then return true end
  local detailKey = keyPrefix .. id
  local reserved = tonumber(rcall('ZSCORE', detailKey .. ':inflight', token))
  rcall('ZREM', detailKey .. ':inflight', token)
  if reserved and reserved > 0 and rcall('EXISTS', detailKey) == 1 then
    rcall('HINCRBY', detailKey, 'inflight_tok', -reserved)
  end
  return true
end

-- Hand the key out: take the lease, and reserve one request and `tokens` of its learned budgets and of
-- its declared rpm / tpm windows (the caller has read those fields). Returns the requests left (-1
-- when no budget is known).
local function reserve(leasesKey, detailKey, id, token, tokens, leaseExpiry, now, rpm, tpm, windowMs)
  if rpm and rpm > 0 then
    local logKey = detailKey .. ':log'
    rcall('LPUSH', logKey, now)
    rcall('LTRIM', logKey, 0, rpm - 1)
    rcall('PEXPIRE', logKey, windowMs * 2)
  end
  if tpm and tpm > 0 and tokens > 0 then
    rcall('LPUSH', detailKey .. ':tlog', now .. ':' .. tokens)
    rcall('HINCRBY', detailKey, 'tlog_sum', tokens)
    rcall('PEXPIRE', detailKey .. ':tlog', windowMs * 2)
  end
  local remaining = -1
  if rcall('HEXISTS', detailKey, 'rem_req') == 1 then remaining = rcall('HINCRBY', detailKey, 'rem_req', -1) end
  if tokens > 0 and rcall('HEXISTS', detailKey, 'rem_tok') == 1 then rcall('HINCRBY', detailKey, 'rem_tok', -tokens) end
  rcall('HINCRBY', detailKey, 'acquired', 1)
  rcall('HINCRBY', detailKey, 'inflight_tok', tokens)
  rcall('ZADD', leasesKey, leaseExpiry, id .. '|' .. token)
  rcall('ZADD', detailKey .. ':inflight', tokens, token)
  return remaining
end

-- Declared tpm: the tokens handed out in the last `windowMs` ("<ms>:<tokens>" entries, newest first,
-- their sum in `tlog_sum`). Drops what aged out, then returns nil when `tokens` more fit under `tpm`,
-- else the ms at which enough will have aged out and the tokens left now.
local function tokenWindowFreeAt(detailKey, tpm, tokens, windowMs, now)
  local tlogKey = detailKey .. ':tlog'
  if rcall('EXISTS', tlogKey) == 0 then
    rcall('HSET', detailKey, 'tlog_sum', 0)
    return nil
  end
  local sum = tonumber(rcall('HGET', detailKey, 'tlog_sum')) or 0
  while true do
    local oldest = rcall('LINDEX', tlogKey, -1)
    if not oldest then break end
    local at, spent = string.match(oldest, '^(%d+):(%d+)$')
    if tonumber(at) + windowMs > now then break end
    rcall('RPOP', tlogKey)
    sum = sum - tonumber(spent)
  end
  rcall('HSET', detailKey, 'tlog_sum', sum)
  if sum + tokens <= tpm then return nil end
  local left = tpm - sum
  -- The oldest entries age out first: the window frees enough when the sum of the rest fits.
  local entries = rcall('LRANGE', tlogKey, 0, -1)
  for i = #entries, 1, -1 do
    local at, spent = string.match(entries[i], '^(%d+):(%d+)$')
    sum = sum - tonumber(spent)
    if sum + tokens <= tpm then return tonumber(at) + windowMs, left end
  end
  return now + windowMs, left
end

-- Leases of crashed replicas expire: drain a few per call so the cost stays bounded.
local function reapLeases(leasesKey, keyPrefix, now, batch)
  local expired = rcall('ZRANGEBYSCORE', leasesKey, '-inf', now, 'LIMIT', 0, batch)
  for i = 1, #expired do
    releaseLease(leasesKey, keyPrefix, expired[i])
  end
end
