--[[
  Record how one upstream attempt ended and move the key and its bucket accordingly. Off the response's
  critical path; one call per attempt.

  Input:
    KEYS[1] the pool's base "<prefix>:{<pool>}:"
    KEYS[2] the client's keys-out log ZSET (see ARGV[21]; any name in the pool's slot when unused)

    ARGV[1]  keyId
    ARGV[2]  lease token given to acquire ('' when there was no lease)
    ARGV[3]  the account acquire named for the lease   ARGV[4] the lease's model group
    ARGV[5]  outcome kind: success | rate_limited | quota_exhausted | invalid_key | permission_denied |
             server_error | timeout | connection_error | client_error
    ARGV[6]  HTTP status ('' when no response)
    ARGV[7]  retry-after ms ('' when absent)
    ARGV[8]  limit requests      ARGV[9]  remaining requests   ARGV[10] ms until requests reset
    ARGV[11] limit tokens        ARGV[12] remaining tokens     ARGV[13] ms until tokens reset
             (each '' when the response did not say)
    ARGV[14] backoff base ms     ARGV[15] backoff factor       ARGV[16] backoff max ms
    ARGV[17] jitter fraction     ARGV[18] a random number in [0,1) from the caller (jitter)
    ARGV[19] consecutive failures that open the circuit breaker (suspend)
    ARGV[20] provider error code ('' when none; never key material)
    ARGV[21] keys the request's client may take out of rotation per minute ('' or 0: no limit);
             KEYS[2] logs the ones it took, so one client token cannot empty a pool
    ARGV[22] the account the answer named (organization, or organization/project; '' when none):
             learned unless the config declares the key's account

  Output:
    { state, untilMs, changed, reason, refused, cooledFor, account }
        state as the lease's model group sees the key (cooling while its bucket cools); untilMs for
        cooling (else 0); changed = 1 when this report changed that state; refused = 1 when the
        answer would have parked keys but the client's keys-out limit was spent (they stay where they
        were); cooledFor = ms of the cooldown this report asked for (0: none); account = the key's now
    { -1 }   unknown key (removed from config meanwhile); nothing written
]]
local rcall = redis.call
--- @include "now"
--- @include "names"
--- @include "return-to-rotation"
--- @include "cool"
--- @include "park"
--- @include "release"
--- @include "learn-account"
--- @include "learn-budget"
--- @include "apply-outcome"

local base, clientOut = KEYS[1], KEYS[2]
local id, token, leaseAccount, group, kind = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now = nowMs()
local keyState = rcall('HGET', base .. 'states', id)
if not keyState then
  if token ~= '' then releaseLease(base, id .. '|' .. token .. '|' .. leaseAccount .. '|' .. group) end
  return { -1 }
end

-- The key's and its bucket's own fields are read once and written once (one HMGET, one HSET each):
-- most of a report's cost in Redis is the number of calls, not what they do.
local key = keyOf(base, id)
local k = rcall('HMGET', key, 'account', 'account_decl', 'inflight', 'ok')
local kw = { 'last_class', kind, 'last_status', ARGV[6], 'last_at', now, 'last_error', ARGV[20] }

-- The lease ends (takeLease), its counters lowered in the key's and its bucket's writes below.
local leaseBucket = bucketOf(base, leaseAccount, group)
local givenBack = 0
local reserved = token ~= '' and takeLease(base, id, token, leaseAccount, group)
if reserved then
  givenBack = reserved
  local inflight = tonumber(k[3]) or 0
  if inflight > 0 then put(kw, 'inflight', inflight - 1) end
end

local named = k[1]
if ARGV[22] ~= '' and not k[2] and ARGV[22] ~= named then
  moveAccount(base, id, ARGV[22])
  named = ARGV[22]
end
local account = accountOf(id, named)
local bucket = bucketOf(base, account, group)
if givenBack > 0 and bucket ~= leaseBucket then
  -- The lease was taken under another account (this answer named a new one, or a sync moved the key).
  if rcall('EXISTS', leaseBucket) == 1 then rcall('HINCRBY', leaseBucket, 'inflight_tok', -givenBack) end
  givenBack = 0
end
local before, beforeUntil, beforeReason = rotationState(base, id, account, group, keyState)

local f = rcall('HMGET', bucket, unpack(REPORT_BUCKET_FIELDS))
local inflightTok = (tonumber(f[6]) or 0) - givenBack
local bw = { 'last_at', now }
if givenBack > 0 then put(bw, 'inflight_tok', inflightTok) end
if kind == 'success' then
  put(kw, 'ok', (tonumber(k[4]) or 0) + 1, 'fails', 0)
  put(bw, 'rl_streak', 0)
end
-- Learned budgets, from any response that carries rate-limit headers (a 2xx included).
local h = {
  limReq = tonumber(ARGV[8]), remReq = tonumber(ARGV[9]), resetReq = tonumber(ARGV[10]),
  limTok = tonumber(ARGV[11]), remTok = tonumber(ARGV[12]), resetTok = tonumber(ARGV[13]),
}
local raised = learnBudget(bucket, f, inflightTok, h, now, bw)
rcall('HSET', bucket, unpack(bw))
rcall('HSET', key, unpack(kw))
-- Answered: the bucket is no longer cold (the first-answer gate). Its first answer lists it for status.
if not f[7] then rcall('SADD', base .. 'buckets', account .. '|' .. group) end
-- A bucket cooled because our estimate of its budget hit 0 returns as soon as a fresher answer shows room.
local returned = false
if raised then
  local why
  if keyState == 'active' then
    if before == 'cooling' then why = beforeReason end
  elseif rcall('ZSCORE', coolingOf(base, group), account) then
    why = rcall('HGET', bucket, 'reason')
  end
  if why == 'budget' or why == 'budget_settling' then
    returnBucket(base, account, group)
    returned = true
  end
end

local refused, cooledFor = applyOutcome(base, {
  id = id, account = account, group = group, kind = kind, h = h, retryAfter = tonumber(ARGV[7]), active = keyState == 'active',
  backoff = { base = tonumber(ARGV[14]), factor = tonumber(ARGV[15]), maxMs = tonumber(ARGV[16]), jitter = tonumber(ARGV[17]) },
  draw = tonumber(ARGV[18]), breaker = tonumber(ARGV[19]), clientOut = clientOut, clientLimit = tonumber(ARGV[21]) or 0,
}, now)

-- A success that cooled nothing and returned nothing left the key where it was.
local state, untilMs, reason = before, beforeUntil, beforeReason
if kind ~= 'success' or cooledFor > 0 or returned then
  state, untilMs, reason = rotationState(base, id, account, group, rcall('HGET', base .. 'states', id))
end
local changed = 0
if state ~= before then changed = 1 end
return { state, untilMs, changed, reason, refused, cooledFor, account }
