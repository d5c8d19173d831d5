--[[
  What one replica learned about its keys while it served from its own memory (Redis was down), merged
  into the shared state when Redis is back, before the replica uses Redis again. The stricter view wins:
  a lower budget, a later cooldown, more recent hand-outs. So the first requests after the return do
  not spend budget that the fallback period already spent (no burst of 429s at the switch).

  Input:
    KEYS[1] ring   KEYS[2] cooling   KEYS[3] states
    KEYS[4] key prefix "<prefix>:{<pool>}:key:" (per-key HASH and LOG; same hash tag, same slot)

    ARGV[1] JSON array of {
              id,
              seen?, remaining?, resetInMs?   the provider's last word on the key's requests left (seen),
                                              minus this replica's requests still in flight (remaining),
                                              and ms until the provider's window resets
              coolMs?, reason?                the key is cooling for this many more ms, and why
              handedOutAgoMs?                 ms since each hand-out of a key with a declared rpm
            }
    All times are relative (ms from now), so the replica's clock never meets Redis's.

  Output:
    number of keys whose shared state changed
]]
local rcall = redis.call
--- @include "now"
--- @include "transitions"

local ringKey, coolingKey, statesKey, keyPrefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = nowMs()
local changed = 0
for _, entry in ipairs(cjson.decode(ARGV[1])) do
  local id = entry.id
  local state = rcall('HGET', statesKey, id)
  if state then
    local detailKey = keyPrefix .. id
    local touched = false
    if entry.remaining ~= nil and entry.resetInMs ~= nil and entry.resetInMs > 0 then
      local f = rcall('HMGET', detailKey, 'rem_req', 'reset_req_at')
      local current, currentReset = tonumber(f[1]), tonumber(f[2])
      if current == nil or currentReset == nil or currentReset <= now or entry.remaining < current then
        local seen = entry.seen or entry.remaining
        rcall('HSET', detailKey, 'rem_req', entry.remaining, 'seen_req', seen, 'rem_slack', seen - entry.remaining,
          'reset_req_at', now + entry.resetInMs)
        touched = true
      end
    end
    if entry.coolMs ~= nil and entry.coolMs > 0 and (state == 'active' or state == 'cooling') then
      local before = tonumber(rcall('ZSCORE', coolingKey, id))
      local untilMs = toCooling(ringKey, coolingKey, statesKey, detailKey, id, now + entry.coolMs, entry.reason or 'rate_limited')
      if before ~= untilMs then touched = true end
    end
    local rpm = tonumber(rcall('HGET', detailKey, 'rpm'))
    if rpm and rpm > 0 and entry.handedOutAgoMs ~= nil and #entry.handedOutAgoMs > 0 then
      local logKey = detailKey .. ':log'
      local times = {}
      for _, t in ipairs(rcall('LRANGE', logKey, 0, -1)) do times[#times + 1] = tonumber(t) end
      for _, ago in ipairs(entry.handedOutAgoMs) do times[#times + 1] = now - ago end
      table.sort(times, function(a, b) return a > b end)
      rcall('DEL', logKey)
      for i = 1, math.min(#times, rpm) do rcall('RPUSH', logKey, times[i]) end
      rcall('PEXPIRE', logKey, (tonumber(rcall('HGET', detailKey, 'window_ms')) or 60000) * 2)
      touched = true
    end
    if touched then changed = changed + 1 end
  end
end
return changed
