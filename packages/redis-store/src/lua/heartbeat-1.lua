--[[
  A proxy replica says it is alive, and learns how many replicas are: the count a replica divides each
  key's budget by while Redis is down and it serves from its own memory (fail-open fallback).

  Input:
    KEYS[1] replicas   ZSET replica id -> ms epoch (Redis clock) of its last heartbeat

    ARGV[1] replica id (random per process)
    ARGV[2] ms after which a replica that sent no heartbeat no longer counts

  Output:
    number of live replicas, this one included
]]
local rcall = redis.call
--- @include "now"

local now = nowMs()
rcall('ZADD', KEYS[1], now, ARGV[1])
rcall('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
rcall('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return rcall('ZCARD', KEYS[1])
