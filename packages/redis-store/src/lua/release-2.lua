--[[
  Give back a lease that ended without an answer from the provider (the client left before one came,
  the request was never forwarded, the key is missing from this replica's config). Nothing about the
  key is recorded: no outcome, no `last_at` (so it does not count as the key's first answer).

  Input:
    KEYS[1] leases    KEYS[2] key prefix "<prefix>:{<pool>}:key:" (the key's HASH and in-flight ZSET)
    ARGV[1] keyId     ARGV[2] lease token given to acquire

  Output:
    1 when the lease was held and is now released, 0 when it was already gone (released, expired)
]]
local rcall = redis.call
--- @include "leases"

local leasesKey, keyPrefix = KEYS[1], KEYS[2]
local member = ARGV[1] .. '|' .. ARGV[2]

if releaseLease(leasesKey, keyPrefix, member) then return 1 end
return 0
