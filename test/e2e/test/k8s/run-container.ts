import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@rotor/testkit';
import { REPO_ROOT } from '../../src/proxy-process';
import type { K8sObject } from './render';

export interface Probe {
  httpGet?: { path: string; port: number | string };
  exec?: { command: string[] };
  timeoutSeconds?: number;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface PodSpec {
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string }; emptyDir?: object }[];
  terminationGracePeriodSeconds?: number;
}

export const podSpec = (deployment: K8sObject) =>
  (deployment as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

/** The image's ENTRYPOINT (services/cli/Dockerfile), its /app/ paths pointed at this checkout. */
export function imageEntrypoint(): string[] {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'services/cli/Dockerfile'), 'utf8');
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  if (!entry) throw new Error('no exec-form ENTRYPOINT in services/cli/Dockerfile');
  return (JSON.parse(entry) as string[]).map((part) => part.replace(/^\/app\//, `${REPO_ROOT}/`));
}

/** `1000Mi` / `1Gi` / `500M` → bytes. */
export function quantityBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  if (!m) throw new Error(`not a memory quantity: ${quantity}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

export interface RunningContainer {
  child: ChildProcess;
  /** containerPort → the free local port it got. */
  hostPort(port: number | string): number;
  /** Local URL of an httpGet probe (or any path on a named / numbered container port). */
  url(port: number | string, urlPath: string): string;
  output(): string;
  /** SIGTERM, as the kubelet sends after preStop; SIGKILL after the grace period. */
  stop(graceSeconds: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/**
 * Runs one container of a pod spec as a plain local process, exactly as the manifest says: the image's
 * ENTRYPOINT with the container's command/args, its env (values, Secret and ConfigMap references
 * resolved from `secrets` / `configMaps`, which stand in for the cluster's objects), its ConfigMap
 * volumes written to a directory standing in for each mountPath. What a process cannot share with the
 * pod is mapped, and only that: every containerPort gets a free local port (an env value that names a
 * containerPort, e.g. PORT=8080, gets it too), and a mountPath in an env value points at its directory.
 */
export async function runContainer(
  pod: PodSpec,
  name: string,
  cluster: { secrets: Record<string, Record<string, string>>; configMaps: Record<string, Record<string, string>> },
  extraEnv: Record<string, string> = {},
): Promise<RunningContainer> {
  const container = pod.containers.find((c) => c.name === name);
  if (!container) throw new Error(`no container ${name}`);
  const ports = new Map<number, number>();
  for (const p of container.ports ?? []) ports.set(p.containerPort, await freePort());
  const containerPort = (port: number | string) =>
    typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
  const hostPort = (port: number | string) => {
    const found = ports.get(containerPort(port) ?? -1);
    if (found === undefined) throw new Error(`container ${name} declares no port ${port}`);
    return found;
  };

  const root = fs.mkdtempSync(path.join(os.tmpdir(), `rotor-pod-${name}-`));
  const mounts = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const dir = path.join(root, mount.mountPath);
    fs.mkdirSync(dir, { recursive: true });
    if (volume?.configMap) {
      const data = cluster.configMaps[volume.configMap.name];
      if (!data) throw new Error(`ConfigMap ${volume.configMap.name} (volume ${mount.name}) not given`);
      for (const [file, text] of Object.entries(data)) fs.writeFileSync(path.join(dir, file), text);
    } else if (!volume?.emptyDir) throw new Error(`volume ${mount.name}: only configMap and emptyDir are mapped`);
    mounts.set(mount.mountPath, dir);
  }

  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    const value = v.value ?? resolveRef(v, cluster);
    if (value === undefined) continue;
    const mount = [...mounts].find(([mountPath]) => value.startsWith(`${mountPath}/`));
    env[v.name] = ports.has(Number(value))
      ? String(ports.get(Number(value)))
      : mount
        ? mount[1] + value.slice(mount[0].length)
        : value;
  }
  // The pod's /tmp is an emptyDir (the root filesystem is read-only): the process's temp files go there.
  const tmp = mounts.get('/tmp');

  if (container.command) throw new Error('the container overrides the image ENTRYPOINT: not mapped');
  const [node, ...flags] = imageEntrypoint();
  if (node !== 'node') throw new Error(`ENTRYPOINT starts with ${node}, not node`);
  const argv = [...flags, ...(container.args ?? [])];
  const child = spawn(process.execPath, argv, {
    cwd: REPO_ROOT, // the image's WORKDIR /app
    env: { PATH: process.env.PATH, ...(tmp ? { TMPDIR: tmp } : {}), ...env, ...extraEnv },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  return {
    child,
    hostPort,
    url: (port, urlPath) => `http://127.0.0.1:${hostPort(port)}${urlPath}`,
    output: () => out,
    stop: async (graceSeconds) => {
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceSeconds * 1000);
      const result = await exited;
      clearTimeout(timer);
      fs.rmSync(root, { recursive: true, force: true });
      return { ...result, ms: Date.now() - started };
    },
  };
}

function resolveRef(v: EnvVar, cluster: { secrets: Record<string, Record<string, string>>; configMaps: Record<string, Record<string, string>> }): string | undefined {
  const secret = v.valueFrom?.secretKeyRef;
  const map = v.valueFrom?.configMapKeyRef;
  const ref = secret ?? map;
  if (!ref) throw new Error(`env ${v.name}: neither a value nor a Secret/ConfigMap reference`);
  const value = (secret ? cluster.secrets : cluster.configMaps)[ref.name]?.[ref.key];
  if (value === undefined && !ref.optional)
    throw new Error(`env ${v.name}: ${secret ? 'Secret' : 'ConfigMap'} ${ref.name} has no ${ref.key} (the pod would not start)`);
  return value;
}
