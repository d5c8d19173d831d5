import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { REPO_ROOT } from '../../src/proxy-process';

export const K8S_DIR = path.join(REPO_ROOT, 'infra/k8s');
export const OVERLAYS = fs.readdirSync(path.join(K8S_DIR, 'overlays')).sort();

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

const INSTALL =
  'the Kubernetes tests need kubectl with Kustomize v5 (kubectl >= 1.27) on the PATH: ./scripts/test.sh installs it, ' +
  "or take any kubectl >= 1.27 (Debian's kubernetes-client 1.20 is too old)";

/** Fails at once, naming what to install, when no suitable kubectl is on the PATH. */
export function requireKubectl(): void {
  const version = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (version.error) throw new Error(`kubectl not found: ${INSTALL}`);
  const kustomize = /Kustomize Version: v(\d+)/.exec(version.stdout)?.[1];
  if (!kustomize || Number(kustomize) < 5) throw new Error(`kubectl has Kustomize ${kustomize ?? 'unknown'}: ${INSTALL}`);
}

/** `kubectl kustomize <dir>`: offline, no cluster. */
export function kustomize(dir: string): { text: string; objects: K8sObject[] } {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw new Error(`kubectl kustomize ${dir}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  const objects = parseAllDocuments(result.stdout).map((d) => d.toJS() as K8sObject).filter(Boolean);
  return { text: result.stdout, objects };
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** Runtime validation by the kubernetes-models schemas (validate-models.mjs, in a process of its own: ESM). */
export function schemaProblems(objects: K8sObject[]): string[] {
  const result = spawnSync(process.execPath, [path.join(__dirname, 'validate-models.mjs')], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0) throw new Error(`validate-models.mjs failed:\n${result.stderr}`);
  const results = JSON.parse(result.stdout) as { ref: string; error?: string }[];
  if (results.length !== objects.length) throw new Error(`validated ${results.length} of ${objects.length} objects`);
  return results.filter((r) => r.error).map((r) => `${r.ref}: ${r.error}`);
}

export const COMPONENTS = fs.readdirSync(path.join(K8S_DIR, 'components')).sort();

/** An overlay with extra components, as an operator's own kustomization would add them. */
export function kustomizeWith(overlay: string, components: string[]): { text: string; objects: K8sObject[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-kustomize-'));
  // Kustomize takes no absolute paths: point at the repository's directories relative to this one.
  const rel = (p: string) => path.relative(dir, path.join(K8S_DIR, p));
  fs.writeFileSync(
    path.join(dir, 'kustomization.yaml'),
    stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [rel(`overlays/${overlay}`)],
      components: components.map((c) => rel(`components/${c}`)),
    }),
  );
  try {
    return kustomize(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
