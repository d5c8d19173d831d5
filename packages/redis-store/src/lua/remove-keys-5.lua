--[[
  Remove keys that are no longer in the config, with all their state.

  Input:
    KEYS[1] ring   KEYS[2] cooling   KEYS[3] parked   KEYS[4] states
    KEYS[5] key prefix "<prefix>:{<pool>}:key:"

    ARGV[1..n] key ids

  Output:
    number of keys removed
  Their leases stay in the leases ZSET until they expire or are released; both skip unknown keys.
]]
local rcall = redis.call
local ringKey, coolingKey, parkedKey, statesKey, keyPrefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local removed = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  removed = removed + rcall('HDEL', statesKey, id)
  rcall('ZREM', ringKey, id)
  rcall('ZREM', coolingKey, id)
  rcall('ZREM', parkedKey, id)
  rcall('DEL', keyPrefix .. id, keyPrefix .. id .. ':log', keyPrefix .. id .. ':tlog', keyPrefix .. id .. ':inflight')
end
return removed
