import fs from 'node:fs';
import path from 'node:path';
import type { Cluster, Redis } from 'ioredis';

/**
 * Lua scripts, one file per command, named `<name>-<numberOfKeys>.lua` (the key count comes from the
 * file name, so a caller cannot pass the wrong number of KEYS). `--- @include "x"` lines are replaced by
 * `lua/includes/x.lua` when loaded. Scripts are registered with ioredis `defineCommand` under a
 * versioned name: ioredis sends EVALSHA and, on NOSCRIPT (Redis restart, failover, SCRIPT FLUSH),
 * EVAL with the source, so callers never see NOSCRIPT. Bump SCRIPT_VERSION whenever a script's
 * contract (KEYS/ARGV/returns) changes, so two releases can run side by side during a rolling deploy.
 */
export const SCRIPT_VERSION = 4;

export const SCRIPT_FILES = {
  acquire: 'acquire',
  report: 'report',
  release: 'release',
  setState: 'set-state',
  syncKeys: 'sync-keys',
  removeKeys: 'remove-keys',
  heartbeat: 'heartbeat',
  mergeLearned: 'merge-learned',
} as const;
export type ScriptName = keyof typeof SCRIPT_FILES;

export interface ScriptSource {
  name: ScriptName;
  command: string;
  numberOfKeys: number;
  lua: string;
}

const LUA_DIR = path.join(__dirname, 'lua');
const INCLUDE = /^--- @include "([a-z-]+)"$/gm;

function inlineIncludes(lua: string): string {
  return lua.replace(INCLUDE, (_line, name: string) =>
    fs.readFileSync(path.join(LUA_DIR, 'includes', `${name}.lua`), 'utf8'),
  );
}

let cache: Map<ScriptName, ScriptSource> | undefined;

export function scriptSources(): Map<ScriptName, ScriptSource> {
  if (cache) return cache;
  const files = fs.readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));
  const sources = new Map<ScriptName, ScriptSource>();
  for (const [name, base] of Object.entries(SCRIPT_FILES) as [ScriptName, string][]) {
    const file = files.find((f) => new RegExp(`^${base}-\\d+\\.lua$`).test(f));
    if (!file) throw new Error(`missing Lua script ${base}-<keys>.lua in ${LUA_DIR}`);
    const numberOfKeys = Number(/-(\d+)\.lua$/.exec(file)![1]);
    const lua = inlineIncludes(fs.readFileSync(path.join(LUA_DIR, file), 'utf8'));
    sources.set(name, { name, command: `rotor_${base.replace(/-/g, '_')}_v${SCRIPT_VERSION}`, numberOfKeys, lua });
  }
  cache = sources;
  return sources;
}

type RedisLike = Redis | Cluster;
type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;
const registered = new WeakSet<RedisLike>();

/** Defines every script on a client (idempotent). */
export function registerScripts(redis: RedisLike): void {
  if (registered.has(redis)) return;
  for (const script of scriptSources().values()) {
    redis.defineCommand(script.command, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  registered.add(redis);
}

/** The one way to call a script: checks the KEYS count against the file name. */
export function runScript(
  redis: RedisLike,
  name: ScriptName,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  registerScripts(redis);
  const script = scriptSources().get(name)!;
  if (keys.length !== script.numberOfKeys) {
    throw new Error(`${script.command} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  const command = (redis as unknown as Record<string, ScriptCommand>)[script.command]!;
  return command.call(redis, ...keys, ...args);
}

/** Loads every script into the script cache now (readiness: the first request then pays no EVAL). */
export async function preloadScripts(redis: RedisLike): Promise<void> {
  const sources = [...scriptSources().values()];
  if ('nodes' in redis && typeof redis.nodes === 'function') {
    await Promise.all(
      redis.nodes('master').flatMap((node) => sources.map((s) => node.script('LOAD', s.lua))),
    );
    return;
  }
  await Promise.all(sources.map((s) => (redis as Redis).script('LOAD', s.lua)));
}
