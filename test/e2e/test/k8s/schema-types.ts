import path from 'node:path';
import ts from 'typescript';
import type { K8sObject } from './render';

/**
 * Unknown fields and wrong types, by TypeScript: every object becomes an object literal that must
 * `satisfies` its kubernetes-models interface (the Kubernetes / Prometheus Operator API types), and an
 * object literal with a property its type lacks is an error at any depth. Returns one line per problem,
 * "<Kind>/<name>: <message>". The file is never written: it lives in memory beside this one, so its
 * imports resolve from test/e2e's node_modules.
 */
export function typeProblems(objects: K8sObject[]): string[] {
  const file = path.join(__dirname, '__manifests__.mts');
  const lines: string[] = [];
  const owner: string[] = []; // object ref per line of the file
  objects.forEach((object, i) => {
    const from = object.apiVersion.startsWith('monitoring.coreos.com/')
      ? `@kubernetes-models/prometheus-operator/${object.apiVersion}/${object.kind}`
      : `kubernetes-models/${object.apiVersion}/${object.kind}`;
    lines.push(`import type { I${object.kind} as T${i} } from '${from}';`);
    owner.push(`${object.kind}/${object.metadata.name}`);
  });
  objects.forEach((object, i) => {
    const body = `export const o${i} = ${JSON.stringify(object, null, 1)} satisfies T${i};`.split('\n');
    lines.push(...body);
    owner.push(...body.map(() => `${object.kind}/${object.metadata.name}`));
  });
  const source = lines.join('\n');

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === file ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));

  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== file || d.start === undefined) return `(typescript): ${message}`;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    return `${owner[line] ?? '?'} (line ${line + 1}): ${message}`;
  });
}
