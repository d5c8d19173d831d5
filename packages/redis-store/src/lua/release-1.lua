--[[
  Give back a lease that ended without an answer from the provider (the client left before one came,
  the request was never forwarded, the key is missing from this replica's config). Nothing about the
  key or its bucket is recorded: no outcome, no `last_at` (so it does not count as a first answer).

  Input:
    KEYS[1] the pool's base "<prefix>:{<pool>}:"
    ARGV[1] keyId   ARGV[2] lease token   ARGV[3] the lease's account   ARGV[4] the lease's model group

  Output:
    1 when the lease was held and is now released, 0 when it was already gone (released, expired)
]]
local rcall = redis.call
--- @include "names"
--- @include "release"

if releaseLease(KEYS[1], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4]) then return 1 end
return 0
