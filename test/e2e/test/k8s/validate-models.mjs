// Validates Kubernetes objects (a JSON array on stdin) with the kubernetes-models packages: the JSON
// schemas of the Kubernetes API and of the Prometheus Operator's CRDs, compiled to validators (types,
// required fields, enums, formats). Prints [{ ref, error? }] as JSON. ESM because those packages are.
// Unknown fields are not the business of these schemas (they allow extra properties): see schema-types.ts.

const modulePath = ({ apiVersion, kind }) =>
  apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;

let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const object of JSON.parse(input)) {
  const ref = `${object.kind}/${object.metadata?.name}`;
  let Model;
  try {
    Model = (await import(modulePath(object)))[object.kind];
  } catch {
    results.push({ ref, error: `no schema for ${object.apiVersion} ${object.kind}` });
    continue;
  }
  try {
    new Model(object).validate();
    results.push({ ref });
  } catch (error) {
    results.push({ ref, error: error.message });
  }
}
process.stdout.write(JSON.stringify(results));
