--[[
  Add keys to a pool, or update the declared settings of keys it has, keeping their state (a cooling
  key stays cooling). Called in batches when the config is loaded or reloaded.

  Input:
    KEYS[1] ring   KEYS[2] states   KEYS[3] meta
    KEYS[4] key prefix "<prefix>:{<pool>}:key:" (per-key HASH; same hash tag, same slot)

    ARGV[1] JSON array of { id, label?, weight, rpm?, tpm?, windowMs? }

  Output:
    number of keys added
]]
local rcall = redis.call
--- @include "transitions"

local ringKey, statesKey, metaKey, keyPrefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local specs = cjson.decode(ARGV[1])
local added = 0
for i = 1, #specs do
  local spec = specs[i]
  local detailKey = keyPrefix .. spec.id
  rcall('HSET', detailKey, 'weight', spec.weight or 1, 'label', spec.label or '')
  for _, field in ipairs({ 'rpm', 'tpm', 'windowMs' }) do
    local name = field == 'windowMs' and 'window_ms' or field
    if spec[field] then rcall('HSET', detailKey, name, spec[field]) else rcall('HDEL', detailKey, name) end
  end
  if rcall('HEXISTS', statesKey, spec.id) == 0 then
    rejoinRing(ringKey, statesKey, metaKey, detailKey, spec.id)
    added = added + 1
  end
end
return added
