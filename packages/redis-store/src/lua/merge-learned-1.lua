--[[
  What one replica learned about its buckets while it served from its own memory (Redis was down),
  merged into the shared state when Redis is back, before the replica uses Redis again. The stricter
  view wins: a lower budget, a later cooldown, more recent hand-outs. So the first requests after the
  return do not spend budget that the fallback period already spent (no burst of 429s at the switch).

  Input:
    KEYS[1] the pool's base "<prefix>:{<pool>}:"

    ARGV[1] JSON array of {
              account, group                  the bucket
              seen?, remaining?, resetInMs?   the provider's last word on the requests left (seen),
                                              minus this replica's requests still in flight (remaining),
                                              and ms until the provider's window resets
              coolMs?, reason?                the bucket is cooling for this many more ms, and why
              handedOutAgoMs?, rpm?, windowMs? ms since each hand-out under a declared rpm
              keys?                           key ids this replica learned the (named) account for:
                                              learned here too unless the config declares theirs
            }
    All times are relative (ms from now), so the replica's clock never meets Redis's.

  Output:
    number of buckets whose shared state changed
]]
local rcall = redis.call
--- @include "now"
--- @include "names"
--- @include "return-to-rotation"
--- @include "cool"
--- @include "learn-account"

local base = KEYS[1]
local now = nowMs()
local changed = 0
for _, entry in ipairs(cjson.decode(ARGV[1])) do
  local account, group = entry.account, entry.group
  -- A group Redis does not track yet (it restarted empty) is added, within the pool's bound.
  if type(account) == 'string' and type(group) == 'string' and ensureGroup(base, group) == group then
    local bucket = bucketOf(base, account, group)
    local touched = false
    if type(entry.keys) == 'table' then
      for _, id in ipairs(entry.keys) do
        if rcall('HEXISTS', base .. 'states', id) == 1 and rcall('HEXISTS', keyOf(base, id), 'account_decl') == 0 then
          if moveAccount(base, id, account) then touched = true end
        end
      end
    end
    if entry.remaining ~= nil and entry.resetInMs ~= nil and entry.resetInMs > 0 then
      local f = rcall('HMGET', bucket, 'rem_req', 'reset_req_at')
      local current, currentReset = tonumber(f[1]), tonumber(f[2])
      if current == nil or currentReset == nil or currentReset <= now or entry.remaining < current then
        local seen = entry.seen or entry.remaining
        rcall('HSET', bucket, 'rem_req', entry.remaining, 'seen_req', seen, 'rem_slack', seen - entry.remaining,
          'reset_req_at', now + entry.resetInMs)
        touched = true
      end
    end
    if entry.coolMs ~= nil and entry.coolMs > 0 then
      local before = tonumber(rcall('ZSCORE', coolingOf(base, group), account))
      local untilMs = coolBucket(base, account, group, now + entry.coolMs, entry.reason or 'rate_limited')
      if before ~= untilMs then touched = true end
    end
    local rpm = tonumber(entry.rpm)
    if rpm and rpm > 0 and entry.handedOutAgoMs ~= nil and #entry.handedOutAgoMs > 0 then
      local logKey = bucket .. ':log'
      local times = {}
      for _, t in ipairs(rcall('LRANGE', logKey, 0, -1)) do times[#times + 1] = tonumber(t) end
      for _, ago in ipairs(entry.handedOutAgoMs) do times[#times + 1] = now - ago end
      table.sort(times, function(a, b) return a > b end)
      rcall('DEL', logKey)
      for i = 1, math.min(#times, rpm) do rcall('RPUSH', logKey, times[i]) end
      rcall('PEXPIRE', logKey, (tonumber(entry.windowMs) or 60000) * 2)
      touched = true
    end
    if touched then
      rcall('SADD', base .. 'buckets', account .. '|' .. group)
      changed = changed + 1
    end
  end
end
return changed
