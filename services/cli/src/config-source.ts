import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseConfig, type Env, type RotorConfig } from '@rotor/core';

/**
 * Where the config comes from: `ROTOR_CONFIG`, else ./rotor.yaml, else the shipped
 * rotor.example.yaml (which, with no keys in the environment, starts demo mode). This module and
 * main.ts are the only readers of process.env.
 */
export interface ConfigSource {
  file: string;
  raw: unknown;
  env: Env;
}

export function findConfig(env: Env = process.env, cwd = process.cwd()): ConfigSource {
  const candidates = env.ROTOR_CONFIG
    ? [path.resolve(cwd, env.ROTOR_CONFIG)]
    : [path.join(cwd, 'rotor.yaml'), path.join(cwd, 'rotor.example.yaml'), path.join(repoRoot(), 'rotor.example.yaml')];
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) {
    throw new ConfigError([{ path: '', message: `no config file: ${candidates.join(', ')} not found (set ROTOR_CONFIG)` }]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const first = (error as Error).message.split('\n')[0];
    throw new ConfigError([{ path: '', message: `${file}: invalid YAML: ${first}` }]);
  }
  return { file, raw, env };
}

export function parseSource(source: ConfigSource): RotorConfig {
  return parseConfig(source.raw, source.env);
}

function repoRoot(): string {
  return path.resolve(__dirname, '../../..');
}
