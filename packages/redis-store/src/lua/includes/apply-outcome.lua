-- Transition "apply outcome": what one answer does, each on its own scope. A rate limit (or a budget
-- the answer shows spent) cools the bucket (account, model group); quota exhaustion parks every key of
-- the account; a bad credential and the circuit breaker act on the key alone; a permission or client
-- error on nothing. Parking is bounded per client (clientMayTakeOut).
local CLIENT_WINDOW_MS = 60000

-- The key's state as this request's model group sees it: 'cooling' while its bucket cools.
local function rotationState(base, id, account, group, state)
  if state == 'active' then
    local untilMs = rcall('ZSCORE', coolingOf(base, group), account)
    if untilMs then return 'cooling', tonumber(untilMs), rcall('HGET', bucketOf(base, account, group), 'reason') or '' end
    return state, 0, ''
  end
  return state, 0, rcall('HGET', keyOf(base, id), 'reason') or ''
end

-- `o`: id, account, group, kind, active (the key's state is active), h (learnBudget's headers),
-- retryAfter, backoff (base, factor, maxMs, jitter), draw (the caller's random number for jitter),
-- breaker, clientOut, clientLimit.
-- Returns refused (1: the client's keys-out limit kept the keys in) and the cooldown asked for (ms).
local function applyOutcome(base, o, now)
  local id, account, group, kind, h = o.id, o.account, o.group, o.kind, o.h
  local key, bucket = keyOf(base, id), bucketOf(base, account, group)
  local active = o.active
  local refused, cooledFor = 0, 0
  local function park(ids, state, reason)
    if not clientMayTakeOut(o.clientOut, o.clientLimit, CLIENT_WINDOW_MS, id, now) then
      refused = 1
      return
    end
    for _, other in ipairs(ids) do
      if rcall('HGET', base .. 'states', other) == 'active' then parkKey(base, other, state, reason, now) end
    end
  end
  local function cool(ms, reason)
    cooledFor = ms
    coolBucket(base, account, group, now + ms, reason)
  end

  if kind == 'success' then
    -- Its counters (ok, fails, rl_streak) are in the report's one HSET per hash.
    if active then
      -- A spent budget cools the bucket BEFORE it earns a 429.
      local spentAt
      if h.remReq and h.remReq <= 0 and h.resetReq then spentAt = now + h.resetReq end
      if h.remTok and h.remTok <= 0 and h.resetTok and (not spentAt or now + h.resetTok > spentAt) then
        spentAt = now + h.resetTok
      end
      if spentAt and spentAt > now then cool(spentAt - now, 'budget') end
    end
  elseif kind == 'rate_limited' then
    rcall('HINCRBY', key, 'rate_limited', 1)
    if active then
      -- When to come back, in order: Retry-After (ms or s), the reset of the exhausted budget, backoff
      -- (capped at its ceiling: a bucket that keeps answering 429 is tried again every maxMs).
      local wait, reason = o.retryAfter, 'rate_limited'
      if not wait then
        if h.remReq and h.remReq <= 0 and h.resetReq then wait = h.resetReq end
        if h.remTok and h.remTok <= 0 and h.resetTok and (not wait or h.resetTok > wait) then wait = h.resetTok end
      end
      if not wait then
        local streak = rcall('HINCRBY', bucket, 'rl_streak', 1)
        local b = o.backoff
        local delay = b.base * b.factor ^ (streak - 1)
        if delay > b.maxMs then
          wait, reason = b.maxMs, 'backoff_ceiling'
        else
          wait = delay + delay * b.jitter * o.draw
        end
      end
      if wait < 1 then wait = 1 end
      cool(math.ceil(wait), reason)
    end
  elseif kind == 'quota_exhausted' then
    rcall('HINCRBY', key, 'quota', 1)
    -- Credit is the account's: all its keys are out until a probe finds credit again.
    if active then park(keysOf(base, account), 'suspended', 'quota') end
  elseif kind == 'invalid_key' then
    rcall('HINCRBY', key, 'invalid', 1)
    -- One answer is not proof (a proxy in between, a path the key may not use): the key is parked as
    -- a suspect and the worker's free probe decides at once (confirmed: disabled; refuted: back).
    if active then park({ id }, 'suspended', 'suspect_invalid') end
  elseif kind == 'server_error' or kind == 'timeout' or kind == 'connection_error' then
    rcall('HINCRBY', key, 'errors', 1)
    local fails = rcall('HINCRBY', key, 'fails', 1)
    if active and fails >= o.breaker then park({ id }, 'suspended', 'circuit_open') end
  end
  return refused, cooledFor
end
