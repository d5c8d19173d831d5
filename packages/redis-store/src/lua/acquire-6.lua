--[[
  Hand out the next eligible key of a pool: the one Redis round trip on the request path.

  Input:
    KEYS[1] ring       ZSET keyId -> virtual time (lowest is next)
    KEYS[2] cooling    ZSET keyId -> ms when it returns
    KEYS[3] states     HASH keyId -> state
    KEYS[4] leases     ZSET "<keyId>|<token>" -> lease expiry ms
    KEYS[5] meta       HASH vt
    KEYS[6] key prefix "<prefix>:{<pool>}:key:" (per-key HASH and LOG; same hash tag, same slot)

    ARGV[1] lease token, unique per attempt
    ARGV[2] lease ttl ms
    ARGV[3] key ids this request already tried, comma-separated ('' for none): never handed out again
    ARGV[4] at most this many due cooling keys are returned to rotation per call (bounded work)
    ARGV[5] settle ms: a key whose budget is spent only by our cautious estimate is looked at again
            this soon (answers in flight will tell), instead of cooling until the provider's reset
    ARGV[6] '1': first-answer gate on: a key that has never been answered (nothing is known of its
            budget) gets one request at a time until its first answer is reported; '' or absent: off
    ARGV[7] the request's estimated tokens (prompt chars / 4 + its output limit; '' or 0: none), reserved
            from the key's learned token budget and counted against its declared tpm

  Output:
    { 1, keyId, remainingRequests }  a key, with its lease taken and one request and the request's
                                     tokens of its budget reserved; remainingRequests is -1 when no
                                     budget is known
    { 0, waitMs }                    no eligible key; ms until the earliest cooling key returns (or
                                     settle ms when a key waits only for its first answer),
                                     -1 when none returns by itself (all suspended / disabled / tried),
                                     -2 when the pool does not exist in Redis at all (a restart without
                                     persistence, FLUSHALL, a failover to an empty replica): the caller
                                     syncs the pool again from its config

  Cost: O(log n) in the pool size, plus bounded batches; a key whose budget is spent is moved to
  cooling when met, so each spent key is skipped at most once per window (amortised O(1)).
]]
local rcall = redis.call
--- @include "now"
--- @include "transitions"
--- @include "leases"

local ringKey, coolingKey, statesKey, leasesKey, metaKey, keyPrefix =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local token, leaseTtl, returnBatch, settleMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
local firstAnswerGate = ARGV[6] == '1'
local tokens = tonumber(ARGV[7]) or 0

local now = nowMs()

-- 1. Cooldowns that ended rejoin the ring (at the lowest score: no burst for the returning key).
local due = rcall('ZRANGEBYSCORE', coolingKey, '-inf', now, 'LIMIT', 0, returnBatch)
for i = 1, #due do
  local id = due[i]
  rcall('ZREM', coolingKey, id)
  rejoinRing(ringKey, statesKey, metaKey, keyPrefix .. id, id)
end

reapLeases(leasesKey, keyPrefix, now, 16)

-- 2. Keys this request already tried are skipped, so look at most that many extra entries ahead.
local excluded, excludedCount = {}, 0
for id in string.gmatch(ARGV[3], '[^,]+') do
  excluded[id] = true
  excludedCount = excludedCount + 1
end

-- A token budget with less than this share of its limit left is as good as spent: cool the key.
local NEARLY_SPENT = 0.05
local function nearlySpent(left, limit)
  if left <= 0 then return true end
  return limit ~= nil and left < limit * NEARLY_SPENT
end

-- Returns the ms at which the key's budget frees up and why ('budget' learned from the provider's
-- headers, 'rpm' declared in the config), or nil when the key may be used now; nil, 'first_answer'
-- when the key was never answered (no report has a last_at) and already has a request in flight: a
-- burst on a cold pool would otherwise go out before a single rate-limit header was seen, and the
-- provider would answer the excess with 429s. Such a key is skipped, not cooled: the wait is short.
-- `f` holds the key's fields as KEY_FIELDS names them (one HMGET per key looked at).
local KEY_FIELDS = { 'rem_req', 'reset_req_at', 'rem_tok', 'reset_tok_at', 'rpm', 'window_ms', 'last_at', 'tpm', 'lim_tok', 'lim_req', 'weight' }
local function spentUntil(id, detailKey, f)
  if firstAnswerGate and not f[7] and rcall('ZCARD', detailKey .. ':inflight') > 0 then
    return nil, 'first_answer'
  end
  local remReq, resetReq = tonumber(f[1]), tonumber(f[2])
  if remReq and resetReq and resetReq <= now then
    -- The provider's window has reset: it is full again, up to the limit its headers named. Our
    -- hand-outs count against that until an answer of the new window tells more (and when).
    local limReq = tonumber(f[10])
    if limReq then
      rcall('HSET', detailKey, 'rem_req', limReq, 'seen_req', limReq, 'rem_slack', 0)
      rcall('HDEL', detailKey, 'reset_req_at')
    else
      rcall('HDEL', detailKey, 'rem_req', 'reset_req_at', 'seen_req', 'rem_slack')
    end
    remReq, resetReq = limReq, nil
  end
  if remReq and remReq <= 0 and not resetReq then
    -- Spent by our own hand-outs since a reset, and no answer has told the new window's end yet: the
    -- answers in flight will; with none in flight there is nothing left to learn from, so go on.
    if rcall('ZCARD', detailKey .. ':inflight') > 0 then return now + settleMs, 'budget_settling' end
    rcall('HDEL', detailKey, 'rem_req', 'seen_req', 'rem_slack')
    remReq = nil
  end
  if remReq and remReq <= 0 and resetReq then
    -- Spent only as far as our cautious estimate goes, with answers still on their way that will tell:
    -- look again shortly rather than write the key off until the reset.
    local slack = tonumber(rcall('HGET', detailKey, 'rem_slack')) or 0
    if slack > 0 and rcall('ZCARD', detailKey .. ':inflight') > 0 and now + settleMs < resetReq then
      return now + settleMs, 'budget_settling'
    end
    return resetReq, 'budget'
  end
  local remTok, resetTok = tonumber(f[3]), tonumber(f[4])
  if remTok and resetTok and resetTok <= now then
    -- As for requests: a reset token budget is full again, up to its learned limit.
    local limTok = tonumber(f[9])
    if limTok then
      rcall('HSET', detailKey, 'rem_tok', limTok)
    else
      rcall('HDEL', detailKey, 'rem_tok')
    end
    rcall('HDEL', detailKey, 'reset_tok_at')
    remTok = nil
  end
  -- The token budget must hold this request's tokens, not just be above 0. A key that cannot is cooled
  -- only when it is (nearly) spent; one that still has room for smaller requests is only skipped by
  -- this one (one large request must not take every key out for everybody). A request larger than
  -- the whole learned limit is left to the provider.
  local limTok = tonumber(f[9])
  local fits = not limTok or tokens <= limTok
  if remTok and resetTok and fits and remTok < math.max(tokens, 1) then
    if nearlySpent(remTok, limTok) then return resetTok, 'budget_tokens' end
    return resetTok, 'does_not_fit'
  end
  local tpm = tonumber(f[8])
  if tpm and tpm > 0 and tokens > 0 and tokens <= tpm then
    -- Declared tpm as a sliding window of the tokens handed out in the last window_ms.
    local windowMs = tonumber(f[6]) or 60000
    local freeAt, left = tokenWindowFreeAt(detailKey, tpm, tokens, windowMs, now)
    if freeAt then
      if nearlySpent(left, tpm) then return freeAt, 'tpm' end
      return freeAt, 'does_not_fit'
    end
  end
  local rpm = tonumber(f[5])
  if rpm and rpm > 0 then
    -- Declared rpm as a sliding window over the last `rpm` hand-outs: never more than rpm in any
    -- window_ms, whatever the provider's window alignment.
    local logKey = detailKey .. ':log'
    if rcall('LLEN', logKey) >= rpm then
      local oldest = tonumber(rcall('LINDEX', logKey, -1))
      local windowMs = tonumber(f[6]) or 60000
      if oldest + windowMs > now then return oldest + windowMs, 'rpm' end
    end
  end
  return nil
end

-- Skipping keys that wait for their first answer is bounded: past 16 of them at the head of the
-- ring, the pool is cold almost everywhere, and the caller waits settle ms anyway.
local guard, awaitingFirstAnswer, gatedSkips = 0, false, 0
-- Keys skipped because this request does not fit what they have left (see spentUntil), bounded as
-- the gated ones are; when they are all there is, the request waits for the first of them to fit.
local misfits, fitsAt = 0, nil
while guard < 1000 and gatedSkips < 16 and misfits < 16 do
  guard = guard + 1
  local head = rcall('ZRANGE', ringKey, 0, excludedCount, 'WITHSCORES')
  local id, score
  for i = 1, #head, 2 do
    if not excluded[head[i]] then
      id, score = head[i], tonumber(head[i + 1])
      break
    end
  end
  if not id then break end

  local detailKey = keyPrefix .. id
  local f = rcall('HMGET', detailKey, unpack(KEY_FIELDS))
  local blockedUntil, why = spentUntil(id, detailKey, f)
  if why == 'first_answer' then
    excluded[id] = true
    excludedCount = excludedCount + 1
    awaitingFirstAnswer = true
    gatedSkips = gatedSkips + 1
  elseif why == 'does_not_fit' then
    excluded[id] = true
    excludedCount = excludedCount + 1
    misfits = misfits + 1
    if not fitsAt or blockedUntil < fitsAt then fitsAt = blockedUntil end
  elseif blockedUntil then
    toCooling(ringKey, coolingKey, statesKey, detailKey, id, blockedUntil, why)
  else
    local weight = tonumber(f[11]) or 1
    if weight <= 0 then weight = 1 end
    rcall('ZADD', ringKey, score + 1 / weight, id)
    rcall('HSET', metaKey, 'vt', score)
    local remaining = reserve(leasesKey, detailKey, id, token, tokens, now + leaseTtl, now, tonumber(f[5]), tonumber(f[8]), tonumber(f[6]) or 60000)
    return { 1, id, remaining }
  end
end

local earliest = rcall('ZRANGE', coolingKey, 0, 0, 'WITHSCORES')
if earliest[2] or awaitingFirstAnswer or fitsAt then
  -- The soonest of: a cooling key's return, a cold key's first answer (settle ms), a skipped key's
  -- budget holding this request.
  local wait
  if earliest[2] then wait = tonumber(earliest[2]) - now end
  if awaitingFirstAnswer and (not wait or settleMs < wait) then wait = settleMs end
  if fitsAt and (not wait or fitsAt - now < wait) then wait = fitsAt - now end
  if wait < 1 then wait = 1 end
  return { 0, wait }
end
if rcall('EXISTS', statesKey) == 0 then return { 0, -2 } end
return { 0, -1 }
