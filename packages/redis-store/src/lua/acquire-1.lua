--[[
  Hand out the next key whose bucket for this request's model group has room: the one Redis round
  trip on the request path.

  Input:
    KEYS[1] the pool's base "<prefix>:{<pool>}:" (every name derives from it; see keys.ts)

    ARGV[1] lease token, unique per attempt
    ARGV[2] lease ttl ms
    ARGV[3] key ids this request already tried, comma-separated ('' for none): never handed out again
    ARGV[4] at most this many due cooling buckets are returned to rotation per call (bounded work)
    ARGV[5] settle ms: a bucket whose budget is spent only by our cautious estimate is looked at again
            this soon (answers in flight will tell), instead of cooling until the provider's reset
    ARGV[6] '1': first-answer gate on: a bucket that has never been answered (nothing is known of its
            budget) gets one request at a time until its first answer is reported; '' or absent: off
    ARGV[7] the request's estimated tokens (prompt chars / 4 + its output limit; '' or 0: none), reserved
            from the bucket's learned token budget and counted against its declared tpm
    ARGV[8] the request's model group ('default' when it names no model)

  Output:
    { 1, keyId, remainingRequests, group, account }
                                     a key, with its lease taken and one request and the request's
                                     tokens of its bucket reserved; remainingRequests is -1 when no
                                     budget is known; group is 'other' when the pool tracks as many
                                     groups as it may (meta max_groups); account is the key's
    { 0, waitMs }                    no eligible key; ms until the earliest cooling bucket of the group
                                     returns (or settle ms when a bucket waits only for its first
                                     answer), -1 when none returns by itself (all suspended / disabled
                                     / tried), -2 when the pool does not exist in Redis at all (a
                                     restart without persistence, FLUSHALL, a failover to an empty
                                     replica): the caller syncs the pool again from its config

  Cost: O(log n) in the pool size, independent of the number of buckets, plus bounded batches; a
  spent bucket is moved to cooling when met (its account's keys leave the group's ring), so each spent
  bucket is skipped at most once per window.
]]
local rcall = redis.call
--- @include "now"
--- @include "names"
--- @include "return-to-rotation"
--- @include "cool"
--- @include "release"
--- @include "reserve"

local base = KEYS[1]
local token, leaseTtl, returnBatch, settleMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
local firstAnswerGate = ARGV[6] == '1'
local tokens = tonumber(ARGV[7]) or 0

local now = nowMs()
local group = ensureGroup(base, ARGV[8])
local ring, cooling = ringOf(base, group), coolingOf(base, group)

-- 1. Buckets whose cooldown ended rejoin the ring (at the lowest score: no burst for returning keys).
local due = rcall('ZRANGEBYSCORE', cooling, '-inf', now, 'LIMIT', 0, returnBatch)
for i = 1, #due do returnBucket(base, due[i], group) end

reapLeases(base, now, 16)

-- 2. Keys this request already tried are skipped, so look at most that many extra entries ahead.
local excluded, excludedCount = {}, 0
for id in string.gmatch(ARGV[3], '[^,]+') do
  excluded[id] = true
  excludedCount = excludedCount + 1
end

-- The key fields acquire reads once per key it looks at (one HMGET): declared limits per group win.
local KEY_FIELDS = { 'weight', 'account', 'rpm', 'tpm', 'window_ms', 'rpm@' .. group, 'tpm@' .. group, 'acquired', 'inflight' }

-- Skipping buckets that wait for their first answer is bounded: past 16 of them at the head of the
-- ring, the pool is cold almost everywhere, and the caller waits settle ms anyway. Keys skipped
-- because this request does not fit what their bucket has left are bounded the same way; when they
-- are all there is, the request waits for the first of them to fit.
local guard, awaitingFirstAnswer, gatedSkips, misfits, fitsAt = 0, false, 0, 0, nil
-- Requests in flight on keys of still unknown account: a named account's budget leaves room for them.
local coldInFlight = rcall('SCARD', coldOf(base, group))
while guard < 1000 and gatedSkips < 16 and misfits < 16 do
  guard = guard + 1
  local head = rcall('ZRANGE', ring, 0, excludedCount, 'WITHSCORES')
  local id, score, scoreText
  for i = 1, #head, 2 do
    if not excluded[head[i]] then
      id, scoreText = head[i], head[i + 1]
      score = tonumber(scoreText)
      break
    end
  end
  if not id then break end

  local k = rcall('HMGET', keyOf(base, id), unpack(KEY_FIELDS))
  local account = accountOf(id, k[2])
  local bucket = bucketOf(base, account, group)
  local b = rcall('HMGET', bucket, unpack(BUCKET_FIELDS))
  local rpm, tpm = tonumber(k[6] or k[3]), tonumber(k[7] or k[4])
  local windowMs = tonumber(k[5]) or 60000
  local unseen = 0
  if string.sub(account, 1, 1) ~= '~' then unseen = coldInFlight end
  local blockedUntil, why = spentUntil(bucket, b, tokens, rpm, tpm, windowMs, now, settleMs, firstAnswerGate, unseen)
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
    coolBucket(base, account, group, blockedUntil, why)
  else
    local weight = tonumber(k[1]) or 1
    if weight <= 0 then weight = 1 end
    rcall('ZADD', ring, score + 1 / weight, id)
    rcall('HSET', base .. 'groups', group, scoreText)
    local remaining = reserve(base, bucket, b, id, k, account, group, token, tokens, now + leaseTtl, now, rpm, tpm, windowMs)
    return { 1, id, remaining, group, account }
  end
end

local earliest = rcall('ZRANGE', cooling, 0, 0, 'WITHSCORES')
if earliest[2] or awaitingFirstAnswer or fitsAt then
  -- The soonest of: a cooling bucket's return, a cold bucket's first answer (settle ms), a skipped
  -- key's bucket holding this request.
  local wait
  if earliest[2] then wait = tonumber(earliest[2]) - now end
  if awaitingFirstAnswer and (not wait or settleMs < wait) then wait = settleMs end
  if fitsAt and (not wait or fitsAt - now < wait) then wait = fitsAt - now end
  if wait < 1 then wait = 1 end
  return { 0, wait }
end
if rcall('EXISTS', base .. 'states') == 0 then return { 0, -2 } end
return { 0, -1 }
