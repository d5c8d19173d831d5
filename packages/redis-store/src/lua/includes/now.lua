-- Milliseconds from the Redis clock, so every replica agrees on "now" whatever their own clocks say.
local function nowMs()
  local t = rcall('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
