-- Transition "learn budget": what an answer's rate-limit headers say a bucket has left.
--
-- What is left: the freshest answer of the running window (the one with the least left, `seen_*`)
-- minus everything of ours still in flight on the bucket, as any of it may not have reached the
-- provider yet. So the estimate never exceeds what is really left (no upstream 429 of our own making);
-- it is low by what the provider counted whose answers are still on their way, and each answer that
-- arrives (fresh or late) shrinks the in-flight set and corrects it, upwards too. `h` holds the
-- answer's limReq, remReq, resetReq, limTok, remTok, resetTok (nil when absent; resets in ms from now).
-- Returns whether the request budget went from spent to some room (a bucket cooled on it may return).
--
-- An answer whose reset has already passed was counted in a window that is over (it reached the
-- provider before the reset and came back after it): what it says is left belongs to that window, not
-- to the running one, where our hand-outs since the reset are still unanswered. Only its limits are learned.
local function windowOver(resetMs) return resetMs ~= nil and resetMs <= 0 end

-- The bucket fields report reads once (one HMGET), in this order.
local REPORT_BUCKET_FIELDS = { 'seen_req', 'reset_req_at', 'rem_req', 'seen_tok', 'reset_tok_at', 'inflight_tok', 'last_at' }

-- Appends up to three field/value pairs to `w`, which the caller writes in one HSET (no vararg
-- table: this runs several times per report).
local function put(w, f1, v1, f2, v2, f3, v3)
  local n = #w
  w[n + 1], w[n + 2] = f1, v1
  if f2 then w[n + 3], w[n + 4] = f2, v2 end
  if f3 then w[n + 5], w[n + 6] = f3, v3 end
end

-- `f`: the bucket's REPORT_BUCKET_FIELDS as read; `inflightTok`: the tokens still in flight on it (this
-- answer's lease given back); the budgets learned are appended to `w`.
local function learnBudget(bucket, f, inflightTok, h, now, w)
  local raised = false
  if h.remReq and not windowOver(h.resetReq) then
    local seen, knownReset, known = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
    local windowRunning = seen and knownReset and knownReset > now
    local fresh = not windowRunning or h.remReq <= seen
    local base = h.remReq
    if not fresh then base = seen end
    local left = base - rcall('ZCARD', bucket .. ':inflight')
    if left < 0 then left = 0 end
    raised = left > 0 and (known == nil or known <= 0)
    -- rem_slack: how much more may really be left; acquire treats a budget spent only by that
    -- uncertainty as settling (look again shortly), not as spent until the reset.
    put(w, 'rem_req', left, 'seen_req', base, 'rem_slack', base - left)
    if fresh and h.resetReq then put(w, 'reset_req_at', now + h.resetReq) end
  end
  if h.limReq then put(w, 'lim_req', h.limReq) end
  if h.remTok and not windowOver(h.resetTok) then
    -- As for requests, minus the tokens our requests still in flight reserved.
    local seen, knownReset = tonumber(f[4]), tonumber(f[5])
    local windowRunning = seen and knownReset and knownReset > now
    local fresh = not windowRunning or h.remTok <= seen
    local base = h.remTok
    if not fresh then base = seen end
    local left = base - inflightTok
    if left < 0 then left = 0 end
    put(w, 'rem_tok', left, 'seen_tok', base)
    if fresh and h.resetTok then put(w, 'reset_tok_at', now + h.resetTok) end
  end
  if h.limTok then put(w, 'lim_tok', h.limTok) end
  return raised
end
