// validate.mjs: every object of the YAML files given is checked against the Kubernetes OpenAPI
// schemas as the kubernetes-models package compiles them (prometheus-operator's for a
// ServiceMonitor); a List's items one by one. Prints one line per object; exit 0 when all are
// valid, 1 when one is not, 77 (skip) when the packages are not installed.
//     node validate.mjs FILE...
import { readFileSync } from "node:fs";

let parseAllDocuments;
try {
  ({ parseAllDocuments } = await import("yaml"));
  await import("kubernetes-models/v1/Pod");
} catch (e) {
  console.log(`skip: kubernetes-models or yaml not installed (scripts/setup installs them): ${e.code || e.message}`);
  process.exit(77);
}

// apiVersion and kind to the module of their model.
function modulePath(apiVersion, kind) {
  if (apiVersion === "monitoring.coreos.com/v1")
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function validate(obj, where) {
  if (obj === null || typeof obj !== "object") return [`${where}: not an object`];
  if (obj.kind === "List") {
    const errors = [];
    for (const [i, item] of (obj.items || []).entries())
      errors.push(...(await validate(item, `${where} items[${i}]`)));
    return errors;
  }
  let mod;
  try {
    mod = await import(modulePath(obj.apiVersion, obj.kind));
  } catch {
    return [`${where}: no schema for ${obj.apiVersion} ${obj.kind}`];
  }
  const Model = mod[obj.kind];
  try {
    new Model(obj).validate();
  } catch (e) {
    return [`${where}: ${obj.kind} ${obj.metadata?.name}: ${e.message}`];
  }
  console.log(`ok ${where}: ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}`);
  return [];
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length) {
      console.log(`FAIL ${file} document ${i + 1}: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    for (const err of await validate(obj, `${file} document ${i + 1}`)) {
      console.log(`FAIL ${err}`);
      failed++;
    }
  }
}
process.exit(failed ? 1 : 0);
