import path from 'node:path';
import { COMPONENTS, K8S_DIR, OVERLAYS, find, kustomize, kustomizeWith, requireKubectl, schemaProblems, type K8sObject } from './k8s/render';
import { podSpec } from './k8s/run-container';
import { typeProblems } from './k8s/schema-types';

/**
 * Every overlay of infra/k8s renders with `kubectl kustomize` (offline) and every object it makes is
 * valid for the Kubernetes API and the Prometheus Operator's CRDs: types, required fields and enums
 * by the kubernetes-models schemas, unknown fields and types again by their TypeScript interfaces.
 */
beforeAll(() => requireKubectl());

const kinds = (objects: K8sObject[]) => [...new Set(objects.map((o) => o.kind))].sort();

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = kustomize(path.join(K8S_DIR, 'overlays', overlay)).objects;
  });

  it('renders the proxy, the worker and their policy objects', () => {
    for (const [kind, name] of [
      ['Deployment', 'rotor-proxy'],
      ['Deployment', 'rotor-worker'],
      ['Service', 'rotor'],
      ['ConfigMap', 'rotor-config'],
      ['PodDisruptionBudget', 'rotor-proxy'],
      ['HorizontalPodAutoscaler', 'rotor-proxy'],
    ] as const)
      expect(find(objects, kind, name).metadata.namespace).toBe(overlay === 'dev' ? 'rotor-dev' : 'rotor');
  });

  it('every object passes the Kubernetes / Prometheus Operator schemas', () => {
    expect(schemaProblems(objects)).toEqual([]);
  });

  it('no object has an unknown field or a wrongly typed one', () => {
    expect(typeProblems(objects)).toEqual([]);
  }, 60_000);
});

it('the overlays differ where they should: dev has its Redis, production the Prometheus Operator objects', () => {
  const dev = kustomize(path.join(K8S_DIR, 'overlays/dev')).objects;
  const production = kustomize(path.join(K8S_DIR, 'overlays/production')).objects;
  expect(kinds(dev)).toContain('StatefulSet');
  expect(kinds(production)).not.toContain('StatefulSet');
  expect(kinds(production)).toEqual(expect.arrayContaining(['PrometheusRule', 'ServiceMonitor']));
  expect(kinds(dev)).not.toContain('ServiceMonitor');
});

describe.each(COMPONENTS)('component %s, on top of every overlay', (component) => {
  it.each(OVERLAYS)('%s: valid objects', (overlay) => {
    const { objects } = kustomizeWith(overlay, [component]);
    expect(schemaProblems(objects)).toEqual([]);
    expect(typeProblems(objects)).toEqual([]);
    if (component === 'config-from-secret') {
      // Both Deployments read rotor.yaml from the Secret rotor-config; the ConfigMap is gone.
      for (const name of ['rotor-proxy', 'rotor-worker']) {
        const volume = podSpec(find(objects, 'Deployment', name)).volumes!.find((v) => v.name === 'config') as Record<string, unknown>;
        expect(volume).toEqual({ name: 'config', secret: { secretName: 'rotor-config', defaultMode: 0o440 } });
      }
      expect(objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 'rotor-config')).toEqual([]);
    }
  }, 60_000);
});

describe('the checks catch what they are for (a broken copy of the rendered proxy Deployment)', () => {
  let deployment: K8sObject;
  let monitor: K8sObject;
  beforeAll(() => {
    const objects = kustomize(path.join(K8S_DIR, 'overlays/production')).objects;
    deployment = find(objects, 'Deployment', 'rotor-proxy');
    monitor = find(objects, 'ServiceMonitor', 'rotor-proxy');
  });
  type Loose = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- mutating on purpose
  const broken = (object: K8sObject, edit: (o: Loose) => void): K8sObject => {
    const copy = structuredClone(object);
    edit(copy as Loose);
    return copy;
  };

  it('an unknown field (a typo) fails', () => {
    const typo = broken(deployment, (d) => (d.spec.replica = 3));
    expect(typeProblems([typo])).toEqual([expect.stringContaining("'\"replica\"' does not exist")]);
    const probe = broken(deployment, (d) => (d.spec.template.spec.containers[0].readinessProbe.httpGet.paths = '/readyz'));
    expect(typeProblems([probe]).join('\n')).toContain('"paths"');
    const endpoint = broken(monitor, (m) => (m.spec.endpoints[0].intervall = '15s'));
    expect(typeProblems([endpoint]).join('\n')).toContain('"intervall"');
  }, 60_000);

  it('a wrong type fails', () => {
    const port = broken(deployment, (d) => (d.spec.template.spec.containers[0].ports[0].containerPort = '8080'));
    expect(schemaProblems([port])).toEqual([expect.stringContaining('containerPort must be integer')]);
    expect(typeProblems([port]).join('\n')).toContain("'string' is not assignable to type 'number'");
    const missing = broken(deployment, (d) => delete d.spec.selector);
    expect(schemaProblems([missing]).join('\n')).toContain('selector');
  }, 60_000);
});
