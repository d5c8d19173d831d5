import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseConfig, readConfigFile, type Env, type RotorConfig } from '@rotor/core';

/**
 * Where the config comes from: `ROTOR_CONFIG`, else ./rotor.yaml, else the shipped
 * rotor.example.yaml (which, with no keys in the environment, starts demo mode). Reading and
 * validating is core's (`readConfigFile`, `parseConfig`). This module and main.ts are the only
 * readers of process.env.
 */
export interface ConfigSource {
  file: string;
  raw: unknown;
  env: Env;
  /**
   * The shipped example as it ships (found by default, or mounted unchanged, as docker-compose does):
   * there is no config of the user's own, the only case for demo mode.
   */
  isShippedExample: boolean;
}

export const SHIPPED_EXAMPLE = path.resolve(__dirname, '../../../rotor.example.yaml');

export function findConfig(env: Env = process.env, cwd = process.cwd()): ConfigSource {
  const candidates = env.ROTOR_CONFIG
    ? [path.resolve(cwd, env.ROTOR_CONFIG)]
    : [path.join(cwd, 'rotor.yaml'), path.join(cwd, 'rotor.example.yaml'), SHIPPED_EXAMPLE];
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) {
    throw new ConfigError([{ path: '', message: `no config file: ${candidates.join(', ')} not found (set ROTOR_CONFIG)` }]);
  }
  return { file, raw: readConfigFile(file), env, isShippedExample: sameContent(file, SHIPPED_EXAMPLE) };
}

function sameContent(a: string, b: string): boolean {
  try {
    return fs.readFileSync(a).equals(fs.readFileSync(b));
  } catch {
    return false; // no shipped example next to this build: nothing is "the example"
  }
}

export function parseSource(source: ConfigSource): RotorConfig {
  return parseConfig(source.raw, source.env);
}
