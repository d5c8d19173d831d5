--[[
  Add keys to a pool, or update the declared settings of keys it has, keeping their state (a cooling
  bucket stays cooling). Called in batches when the config is loaded or reloaded.

  Input:
    KEYS[1] the pool's base "<prefix>:{<pool>}:"

    ARGV[1] JSON array of { id, label?, weight, rpm?, tpm?, windowMs?, account?, groups? }
            (groups: model group -> { rpm?, tpm? }, declared limits of that group)
    ARGV[2] JSON array of the model groups the config names (always tracked, whatever the bound)
    ARGV[3] how many groups the pool may track in all (meta max_groups)

  Output:
    number of keys added
]]
local rcall = redis.call
--- @include "names"
--- @include "return-to-rotation"
--- @include "learn-account"

local base = KEYS[1]
local specs = cjson.decode(ARGV[1])
rcall('HSET', base .. 'meta', 'max_groups', ARGV[3])
for _, group in ipairs(cjson.decode(ARGV[2])) do
  if rcall('HEXISTS', base .. 'groups', group) == 0 then addGroup(base, group) end
end

local added = 0
for i = 1, #specs do
  local spec = specs[i]
  local key = keyOf(base, spec.id)
  rcall('HSET', key, 'weight', spec.weight or 1, 'label', spec.label or '')
  for _, field in ipairs({ 'rpm', 'tpm', 'windowMs' }) do
    local name = field == 'windowMs' and 'window_ms' or field
    if spec[field] then rcall('HSET', key, name, spec[field]) else rcall('HDEL', key, name) end
  end
  -- Declared limits per model group: "rpm@<group>" / "tpm@<group>"; those no longer declared go.
  local wanted = {}
  if type(spec.groups) == 'table' then
    for group, limits in pairs(spec.groups) do
      for _, field in ipairs({ 'rpm', 'tpm' }) do
        if limits[field] then wanted[field .. '@' .. group] = limits[field] end
      end
    end
  end
  for _, field in ipairs(rcall('HKEYS', key)) do
    if (string.sub(field, 1, 4) == 'rpm@' or string.sub(field, 1, 4) == 'tpm@') and not wanted[field] then
      rcall('HDEL', key, field)
    end
  end
  for field, value in pairs(wanted) do rcall('HSET', key, field, value) end

  local state = rcall('HGET', base .. 'states', spec.id)
  local isNew = not state
  if isNew then rcall('HSET', base .. 'states', spec.id, 'added') end
  -- A key a store before buckets (scripts v3) left 'cooling' (keys cool no more; buckets do) returns
  -- to rotation, or it would stay out of every ring for good.
  local leftCooling = state == 'cooling'
  -- A declared account wins over a learned one; dropping the declaration forgets the account (the
  -- next answer teaches it again).
  local declared = spec.account or ''
  if declared ~= '' then
    rcall('HSET', key, 'account_decl', declared)
    moveAccount(base, spec.id, declared)
  elseif rcall('HEXISTS', key, 'account_decl') == 1 then
    rcall('HDEL', key, 'account_decl')
    moveAccount(base, spec.id, '')
  end
  if isNew then
    returnKey(base, spec.id)
    added = added + 1
  elseif leftCooling then
    returnKey(base, spec.id)
  end
end
return added
