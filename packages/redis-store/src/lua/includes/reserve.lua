-- Transition "reserve": may a bucket take this request now, and if so, hand the key out.

-- A token budget with less than this share of its limit left is as good as spent: cool the bucket.
local NEARLY_SPENT = 0.05
local function nearlySpent(left, limit)
  if left <= 0 then return true end
  return limit ~= nil and left < limit * NEARLY_SPENT
end

-- The bucket fields acquire reads once per key it looks at (one HMGET), in this order.
local BUCKET_FIELDS = { 'rem_req', 'reset_req_at', 'rem_tok', 'reset_tok_at', 'lim_tok', 'lim_req', 'last_at', 'rem_slack', 'inflight_tok' }

-- Declared tpm: the tokens handed out in the last `windowMs` ("<ms>:<tokens>" entries, newest first,
-- their sum in `tlog_sum`). Drops what aged out, then returns nil when `tokens` more fit under `tpm`,
-- else the ms at which enough will have aged out and the tokens left now.
local function tokenWindowFreeAt(bucket, tpm, tokens, windowMs, now)
  local tlogKey = bucket .. ':tlog'
  if rcall('EXISTS', tlogKey) == 0 then
    rcall('HSET', bucket, 'tlog_sum', 0)
    return nil
  end
  local sum = tonumber(rcall('HGET', bucket, 'tlog_sum')) or 0
  while true do
    local oldest = rcall('LINDEX', tlogKey, -1)
    if not oldest then break end
    local at, spent = string.match(oldest, '^(%d+):(%d+)$')
    if tonumber(at) + windowMs > now then break end
    rcall('RPOP', tlogKey)
    sum = sum - tonumber(spent)
  end
  rcall('HSET', bucket, 'tlog_sum', sum)
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

-- Returns the ms at which the bucket has room for this request and why ('budget' learned from the
-- provider's headers, 'rpm' / 'tpm' declared in the config), or nil when it may be used now. Two
-- answers mean "skip this key, do not cool the bucket": 'first_answer' (the bucket was never answered
-- and already has a request in flight: a burst on a cold bucket would go out before a single
-- rate-limit header was seen) and 'does_not_fit' (this request is larger than what is left, but
-- smaller ones still fit). `b` holds the bucket's BUCKET_FIELDS. `unseen`: requests in flight on keys
-- whose account is not known yet (see reserve): the provider may have counted them against this
-- bucket already, so what the last answer said is left holds that much less until their answers tell.
local function spentUntil(bucket, b, tokens, rpm, tpm, windowMs, now, settleMs, gate, unseen)
  if gate and not b[7] and rcall('ZCARD', bucket .. ':inflight') > 0 then return nil, 'first_answer' end
  local remReq, resetReq = tonumber(b[1]), tonumber(b[2])
  if remReq and resetReq and resetReq <= now then
    -- The provider's window has reset: it is full again, up to the limit its headers named. Our
    -- hand-outs count against that until an answer of the new window tells more (and when).
    local limReq = tonumber(b[6])
    if limReq then
      rcall('HSET', bucket, 'rem_req', b[6], 'seen_req', b[6], 'rem_slack', '0')
      rcall('HDEL', bucket, 'reset_req_at')
    else
      rcall('HDEL', bucket, 'rem_req', 'reset_req_at', 'seen_req', 'rem_slack')
    end
    remReq, resetReq = limReq, nil
    b[1] = b[6]
  end
  if remReq and remReq <= 0 and not resetReq then
    -- Spent by our own hand-outs since a reset, and no answer has told the new window's end yet: the
    -- answers in flight will; with none in flight there is nothing left to learn from, so go on.
    if rcall('ZCARD', bucket .. ':inflight') > 0 then return now + settleMs, 'budget_settling' end
    rcall('HDEL', bucket, 'rem_req', 'seen_req', 'rem_slack')
    remReq = nil
    b[1] = false
  end
  if remReq and remReq <= 0 and resetReq then
    -- Spent only as far as our cautious estimate goes, with answers still on their way that will tell:
    -- look again shortly rather than write the bucket off until the reset.
    local slack = tonumber(b[8]) or 0
    if slack > 0 and rcall('ZCARD', bucket .. ':inflight') > 0 and now + settleMs < resetReq then
      return now + settleMs, 'budget_settling'
    end
    return resetReq, 'budget'
  end
  if remReq and unseen > 0 and remReq <= unseen then
    -- Left only if none of those is this account's: their answers, due soon, will tell.
    return now + settleMs, 'budget_settling'
  end
  local remTok, resetTok = tonumber(b[3]), tonumber(b[4])
  local limTok = tonumber(b[5])
  if remTok and resetTok and resetTok <= now then
    -- As for requests: a reset token budget is full again, up to its learned limit.
    if limTok then rcall('HSET', bucket, 'rem_tok', b[5]) else rcall('HDEL', bucket, 'rem_tok') end
    rcall('HDEL', bucket, 'reset_tok_at')
    remTok, resetTok = limTok, nil
    b[3] = b[5]
  end
  -- The token budget must hold this request's tokens, not just be above 0. A bucket that cannot is
  -- cooled only when it is (nearly) spent; one that still has room for smaller requests is only
  -- skipped by this one (one large request must not take a bucket out for everybody). A request
  -- larger than the whole learned limit is left to the provider.
  local fits = not limTok or tokens <= limTok
  if remTok and resetTok and fits and remTok < math.max(tokens, 1) then
    if nearlySpent(remTok, limTok) then return resetTok, 'budget_tokens' end
    return resetTok, 'does_not_fit'
  end
  if tpm and tpm > 0 and tokens > 0 and tokens <= tpm then
    -- Declared tpm as a sliding window of the tokens handed out in the last window_ms.
    local freeAt, left = tokenWindowFreeAt(bucket, tpm, tokens, windowMs, now)
    if freeAt then
      if nearlySpent(left, tpm) then return freeAt, 'tpm' end
      return freeAt, 'does_not_fit'
    end
  end
  if rpm and rpm > 0 then
    -- Declared rpm as a sliding window over the last `rpm` hand-outs: never more than rpm in any
    -- window_ms, whatever the provider's window alignment.
    local logKey = bucket .. ':log'
    if rcall('LLEN', logKey) >= rpm then
      local oldest = tonumber(rcall('LINDEX', logKey, -1))
      if oldest + windowMs > now then return oldest + windowMs, 'rpm' end
    end
  end
  return nil
end

-- Hand the key out: take the lease, and reserve one request and `tokens` of its bucket's learned
-- budgets and declared rpm / tpm windows. Returns the requests left (-1 when no budget is known).
-- `b`: the bucket's BUCKET_FIELDS as spentUntil left them; `k`: the key's KEY_FIELDS (acquire-1.lua).
-- The bucket's and the key's counters are written in one HSET each, numbers as integer strings
-- (Lua's own number-to-string conversion is a float format, several times dearer).
-- A bucket never answered (maybe new) is listed in the pool's `buckets` SET for status. A fresh
-- bucket of a key's own account is a key whose account is not known yet: until its answer names one,
-- its request is in the group's `cold` SET, which named accounts' budgets leave room for.
local function reserve(base, bucket, b, id, k, account, group, token, tokens, leaseExpiry, now, rpm, tpm, windowMs)
  if not b[7] then
    rcall('SADD', base .. 'buckets', account .. '|' .. group)
    if string.sub(account, 1, 1) == '~' then rcall('SADD', coldOf(base, group), token) end
  end
  if rpm and rpm > 0 then
    local logKey = bucket .. ':log'
    rcall('LPUSH', logKey, string.format('%d', now))
    rcall('LTRIM', logKey, 0, rpm - 1)
    rcall('PEXPIRE', logKey, windowMs * 2)
  end
  local tokensText = string.format('%d', tokens)
  if tpm and tpm > 0 and tokens > 0 then
    rcall('LPUSH', bucket .. ':tlog', string.format('%d', now) .. ':' .. tokensText)
    rcall('HINCRBY', bucket, 'tlog_sum', tokensText)
    rcall('PEXPIRE', bucket .. ':tlog', windowMs * 2)
  end
  local remaining = -1
  local w = { 'inflight_tok', string.format('%d', (tonumber(b[9]) or 0) + tokens) }
  if b[1] then
    remaining = tonumber(b[1]) - 1
    w[3], w[4] = 'rem_req', string.format('%d', remaining)
  end
  if tokens > 0 and b[3] then w[#w + 1], w[#w + 2] = 'rem_tok', string.format('%d', tonumber(b[3]) - tokens) end
  rcall('HSET', bucket, unpack(w))
  rcall('ZADD', bucket .. ':inflight', tokensText, token)
  rcall('HSET', keyOf(base, id), 'acquired', string.format('%d', (tonumber(k[8]) or 0) + 1), 'inflight', string.format('%d', (tonumber(k[9]) or 0) + 1))
  rcall('ZADD', base .. 'leases', string.format('%d', leaseExpiry), id .. '|' .. token .. '|' .. account .. '|' .. group)
  return remaining
end
