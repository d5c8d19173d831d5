import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './infra-files';

/** Splits a shell command line into words: single and double quotes, no expansion (what the README uses). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else word = (word ?? '') + ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= '';
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === '#' && word === undefined) {
      break; // a comment
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (quote) throw new Error(`unclosed quote in: ${line}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** The `redis-cli ...` lines of the README section `heading`'s code blocks, as argument lists. */
export function readmeRedisCommands(heading: string): string[][] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${heading}`);
  if (start < 0) throw new Error(`README has no section "## ${heading}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const commands: string[][] = [];
  for (const block of section.matchAll(/```(?:sh|bash|console)?\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split('\n')) {
      const words = shellWords(line.replace(/^\$\s+/, ''));
      if (words[0] === 'redis-cli') commands.push(words.slice(1));
    }
  }
  return commands;
}

/**
 * The metric names of a README's metric tables: the first cell of every row that starts with a
 * `rotor_…` name (wildcards such as `rotor_proxy_*` left out). `file` is relative to the repository.
 */
export function readmeMetricNames(file: string): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  return [...text.matchAll(/^\|\s*`(rotor_[a-z0-9_]+)`\s*\|/gm)].map((m) => m[1]!);
}
