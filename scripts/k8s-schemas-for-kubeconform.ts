// Copies one version of kubernetes-validate's "local" Kubernetes JSON schemas into
// a directory kubeconform can load by file. Those schemas name themselves with an
// https $id and reach the shared definitions as "/api/_definitions.json", which
// resolves against that $id; kubeconform compiles each file from its path and has
// no way to preload _definitions.json. So: drop each kind's $id (its base becomes
// its file) and point the references at the _definitions.json beside it.
//   node scripts/k8s-schemas-for-kubeconform.ts FROM_DIR TO_DIR
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [from, to] = process.argv.slice(2);
if (!from || !to) throw new Error('usage: k8s-schemas-for-kubeconform.ts FROM_DIR TO_DIR');

let count = 0;
for (const file of readdirSync(from)) {
  if (!file.endsWith('.json')) continue;
  const text = readFileSync(path.join(from, file), 'utf8').replaceAll('"/api/_definitions.json#', '"_definitions.json#');
  const schema = JSON.parse(text) as Record<string, unknown>;
  if (file !== '_definitions.json') delete schema.$id;
  writeFileSync(path.join(to, file), JSON.stringify(schema));
  count++;
}
process.stdout.write(`${count} schemas -> ${to}\n`);
