-- Names of a pool's Redis keys, all derived from the pool's base "<prefix>:{<pool>}:" (keys.ts has the
-- whole schema): one hash tag, one slot, so every script also runs on Redis Cluster.
local function ringOf(base, group) return base .. 'ring:' .. group end
local function coolingOf(base, group) return base .. 'cooling:' .. group end
local function keyOf(base, id) return base .. 'key:' .. id end
local function bucketOf(base, account, group) return base .. 'bucket:' .. account .. '|' .. group end
local function coldOf(base, group) return base .. 'cold:' .. group end

-- A key with no declared or learned account is an account of its own, named '~<keyId>' ('~' is not
-- allowed in account names, so it never meets a real one).
local function accountOf(id, named)
  if named and named ~= '' then return named end
  return '~' .. id
end

-- The keys of an account: the account SET of a named one, the key itself otherwise.
local function keysOf(base, account)
  if string.sub(account, 1, 1) == '~' then return { string.sub(account, 2) } end
  return rcall('SMEMBERS', base .. 'account:' .. account)
end

-- Model groups the pool tracks (the `groups` HASH: group -> virtual clock while its ring is empty).
local function groupsOf(base) return rcall('HKEYS', base .. 'groups') end
