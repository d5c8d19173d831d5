--[[
  Record how one upstream attempt ended and move the key between states accordingly. Off the
  response's critical path; one call per attempt.

  Input:
    KEYS[1] ring      KEYS[2] cooling    KEYS[3] parked    KEYS[4] states
    KEYS[5] leases    KEYS[6] meta       KEYS[7] the key's detail HASH ("<keyPrefix><keyId>")
    KEYS[8] the client's keys-out log ZSET (see ARGV[19]; any name in the pool's slot when unused)

    ARGV[1]  keyId
    ARGV[2]  lease token given to acquire ('' when there was no lease)
    ARGV[3]  outcome kind: success | rate_limited | quota_exhausted | invalid_key | permission_denied |
             server_error | timeout | connection_error | client_error
    ARGV[4]  HTTP status ('' when no response)
    ARGV[5]  retry-after ms ('' when absent)
    ARGV[6]  limit requests      ARGV[7]  remaining requests   ARGV[8]  ms until requests reset
    ARGV[9]  limit tokens        ARGV[10] remaining tokens     ARGV[11] ms until tokens reset
             (each '' when the response did not say)
    ARGV[12] backoff base ms     ARGV[13] backoff factor       ARGV[14] backoff max ms
    ARGV[15] jitter fraction     ARGV[16] a random number in [0,1) from the caller (jitter)
    ARGV[17] consecutive failures that open the circuit breaker (suspend)
    ARGV[18] provider error code ('' when none; never key material)
    ARGV[19] keys the request's client may take out of rotation per minute ('' or 0: no limit);
             KEYS[8] logs the ones it took, so one client token cannot empty a pool

  Output:
    { state, untilMs, changed, reason, refused, cooledFor }
                                          state after the report; untilMs for cooling (else 0);
                                          changed = 1 when this report moved the key to another state;
                                          refused = 1 when it would have parked the key but the
                                          client's keys-out limit was spent (the key stays where it was);
                                          cooledFor = ms of the cooldown this report asked for (0: none)
    { -1 }                                unknown key (removed from config meanwhile); nothing written
]]
local rcall = redis.call
--- @include "now"
--- @include "transitions"
--- @include "leases"

local ringKey, coolingKey, parkedKey, statesKey, leasesKey, metaKey, detailKey, clientOutKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id, token, kind = ARGV[1], ARGV[2], ARGV[3]
local clientKeysOutLimit = tonumber(ARGV[19]) or 0
local CLIENT_WINDOW_MS = 60000
local keyPrefix = string.sub(detailKey, 1, #detailKey - #id)

local now = nowMs()
if token ~= '' then releaseLease(leasesKey, keyPrefix, id .. '|' .. token) end

local state = rcall('HGET', statesKey, id)
if not state then return { -1 } end
local before = state

rcall('HSET', detailKey, 'last_class', kind, 'last_status', ARGV[4], 'last_at', now, 'last_error', ARGV[18])

-- Learned budgets, from any response that carries rate-limit headers (a 2xx included).
local limReq, remReq, resetReq = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
-- What is left: the freshest answer of the running window (the one with the least left, `seen_req`)
-- minus every request of ours still in flight, as any of them may not have reached the provider yet.
-- So the estimate never exceeds what is really left (no upstream 429 of our own making); it is low by
-- the requests the provider counted whose answers are still on their way, and each answer that
-- arrives (fresh or late) shrinks the in-flight set and corrects it, upwards too.
local budgetRaised = false
if remReq then
  local f = rcall('HMGET', detailKey, 'seen_req', 'reset_req_at', 'rem_req')
  local seen, knownReset, known = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
  local windowRunning = seen and knownReset and knownReset > now
  local fresh = not windowRunning or remReq <= seen
  local base = remReq
  if not fresh then base = seen end
  local left = base - rcall('ZCARD', detailKey .. ':inflight')
  if left < 0 then left = 0 end
  budgetRaised = left > 0 and (known == nil or known <= 0)
  -- rem_slack: how much more may really be left; acquire treats a budget spent only by that
  -- uncertainty as settling (look again shortly), not as spent until the reset.
  rcall('HSET', detailKey, 'rem_req', left, 'seen_req', base, 'rem_slack', base - left)
  if fresh and resetReq then rcall('HSET', detailKey, 'reset_req_at', now + resetReq) end
end
if limReq then rcall('HSET', detailKey, 'lim_req', limReq) end
local limTok, remTok, resetTok = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
if remTok then
  -- As for requests: the freshest answer of the running window, minus the tokens our requests still
  -- in flight reserved (this request's own reservation was released above).
  local f = rcall('HMGET', detailKey, 'seen_tok', 'reset_tok_at', 'inflight_tok')
  local seen, knownReset = tonumber(f[1]), tonumber(f[2])
  local windowRunning = seen and knownReset and knownReset > now
  local fresh = not windowRunning or remTok <= seen
  local base = remTok
  if not fresh then base = seen end
  local left = base - (tonumber(f[3]) or 0)
  if left < 0 then left = 0 end
  rcall('HSET', detailKey, 'rem_tok', left, 'seen_tok', base)
  if fresh and resetTok then rcall('HSET', detailKey, 'reset_tok_at', now + resetTok) end
end
if limTok then rcall('HSET', detailKey, 'lim_tok', limTok) end

local function cool(untilMs, reason)
  return toCooling(ringKey, coolingKey, statesKey, detailKey, id, untilMs, reason)
end
local refused = 0
local function park(newState, reason)
  if not clientMayTakeOut(clientOutKey, clientKeysOutLimit, CLIENT_WINDOW_MS, id, now) then
    refused = 1
    return
  end
  toParked(ringKey, coolingKey, parkedKey, statesKey, detailKey, id, newState, reason, now)
  state = newState
end
-- A key cooled because our estimate of its budget hit 0 returns as soon as a fresher answer shows room.
local coolReason = state == 'cooling' and rcall('HGET', detailKey, 'reason')
if budgetRaised and (coolReason == 'budget' or coolReason == 'budget_settling') then
  rcall('ZREM', coolingKey, id)
  rejoinRing(ringKey, statesKey, metaKey, detailKey, id)
  state = 'active'
end

local inRotation = state == 'active' or state == 'cooling'
local untilMs = 0
-- How long the cooldown this report asked for lasts (ms from now), before ZADD GT keeps a later one.
local cooledFor = 0

if kind == 'success' then
  rcall('HINCRBY', detailKey, 'ok', 1)
  rcall('HSET', detailKey, 'fails', 0, 'rl_streak', 0)
  if inRotation then
    -- A spent budget cools the key BEFORE it earns a 429.
    local spentAt
    if remReq and remReq <= 0 and resetReq then spentAt = now + resetReq end
    if remTok and remTok <= 0 and resetTok and (not spentAt or now + resetTok > spentAt) then
      spentAt = now + resetTok
    end
    if spentAt and spentAt > now then
      cooledFor = spentAt - now
      untilMs = cool(spentAt, 'budget')
      state = 'cooling'
    end
  end
elseif kind == 'rate_limited' then
  rcall('HINCRBY', detailKey, 'rate_limited', 1)
  if inRotation then
    -- When to come back, in order: Retry-After (ms or s), the reset of the exhausted budget, backoff.
    local wait = tonumber(ARGV[5])
    if not wait then
      if remReq and remReq <= 0 and resetReq then wait = resetReq end
      if remTok and remTok <= 0 and resetTok and (not wait or resetTok > wait) then wait = resetTok end
    end
    if not wait then
      local streak = rcall('HINCRBY', detailKey, 'rl_streak', 1)
      local base, factor, maxMs = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
      local delay = base * factor ^ (streak - 1)
      if delay > maxMs then
        park('suspended', 'backoff_ceiling')
      else
        wait = delay + delay * tonumber(ARGV[15]) * tonumber(ARGV[16])
      end
    end
    if wait then
      if wait < 1 then wait = 1 end
      cooledFor = math.ceil(wait)
      untilMs = cool(now + cooledFor, 'rate_limited')
      state = 'cooling'
    end
  end
elseif kind == 'quota_exhausted' then
  rcall('HINCRBY', detailKey, 'quota', 1)
  if inRotation then park('suspended', 'quota') end
elseif kind == 'invalid_key' then
  rcall('HINCRBY', detailKey, 'invalid', 1)
  -- One answer is not proof (a proxy in between, a path the key may not use): the key is parked as
  -- a suspect and the worker's free probe decides at once (confirmed: disabled; refuted: back).
  if inRotation then park('suspended', 'suspect_invalid') end
elseif kind == 'server_error' or kind == 'timeout' or kind == 'connection_error' then
  rcall('HINCRBY', detailKey, 'errors', 1)
  local fails = rcall('HINCRBY', detailKey, 'fails', 1)
  if inRotation and fails >= tonumber(ARGV[17]) then park('suspended', 'circuit_open') end
end

if state == 'cooling' and untilMs == 0 then
  untilMs = tonumber(rcall('ZSCORE', coolingKey, id)) or 0
end
local changed = 0
if state ~= before then changed = 1 end
return { state, untilMs, changed, rcall('HGET', detailKey, 'reason') or '', refused, cooledFor }
