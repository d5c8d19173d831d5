--[[
  Remove keys that are no longer in the config, with all their state (and the buckets of accounts
  left with no keys).

  Input:
    KEYS[1] the pool's base "<prefix>:{<pool>}:"
    ARGV[1..n] key ids

  Output:
    number of keys removed
  Their leases stay in the leases ZSET until they expire or are released; both skip unknown keys.
]]
local rcall = redis.call
--- @include "names"
--- @include "return-to-rotation"
--- @include "learn-account"

local base = KEYS[1]
local removed = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  if rcall('HEXISTS', base .. 'states', id) == 1 then
    rcall('HSET', base .. 'states', id, 'removed')
    moveAccount(base, id, '')
    forgetAccount(base, accountOf(id, ''))
    for _, group in ipairs(groupsOf(base)) do rcall('ZREM', ringOf(base, group), id) end
    rcall('ZREM', base .. 'parked', id)
    rcall('HDEL', base .. 'states', id)
    rcall('DEL', keyOf(base, id))
    removed = removed + 1
  end
end
return removed
