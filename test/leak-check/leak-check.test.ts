// Runs after the whole suite (test/run-all.sh): every secret value a test gave
// a gateway (env values, declared secrets, signing and audit keys) is searched
// for in every log and audit file the suite kept. Zero hits.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { ARTIFACTS_DIR } from '../helpers/gateway.ts';

const files = (sub: string) => (existsSync(path.join(ARTIFACTS_DIR, sub)) ? readdirSync(path.join(ARTIFACTS_DIR, sub)).map((f) => path.join(ARTIFACTS_DIR, sub, f)) : []);

it('no secret value used by the tests appears in any log or audit file', () => {
  const secrets = new Set(files('secrets').flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as string[]));
  const kept = [...files('logs'), ...files('audit')];
  // A check over nothing proves nothing: the suite must have run and kept its files.
  assert.ok(secrets.size >= 20, `only ${secrets.size} secret values recorded in ${ARTIFACTS_DIR}; run the whole suite first`);
  assert.ok(kept.length >= 10, `only ${kept.length} log and audit files in ${ARTIFACTS_DIR}`);
  const hits: string[] = [];
  let bytes = 0;
  for (const file of kept) {
    const text = readFileSync(file, 'utf8');
    bytes += text.length;
    for (const secret of secrets) if (text.includes(secret)) hits.push(`${path.relative(ARTIFACTS_DIR, file)} contains a secret value (${secret.length} chars, starts "${secret.slice(0, 3)}")`);
  }
  assert.deepEqual(hits, [], `leaks in ${kept.length} files`);
  process.stdout.write(`# leak check: ${secrets.size} secret values, ${kept.length} files, ${bytes} bytes, 0 hits\n`);
});
