// V8's memory flags are set in one place, the Dockerfile's ENTRYPOINT (why: the comment there and
// bench/optimization-log.md); every other way of starting the gateway carries the same ones.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { imageNodeFlags, npmStartEnv } from '../../../bench/lib/node-flags.ts';

const root = new URL('../../../', import.meta.url);

test('the image, `npm start` and bin/secrets-gateway.js start Node with the same flags', () => {
  const flags = imageNodeFlags();
  assert.ok(flags.some((f) => f.startsWith('--max-semi-space-size=')), 'the image caps the young generation');
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
  // With the compile cache on before src/main.ts loads (src/main.ts says why).
  assert.equal(pkg.scripts['start'], ['NODE_COMPILE_CACHE=node_modules/.cache/node-compile-cache', 'node', ...flags, 'src/main.ts', 'serve'].join(' '));
  assert.deepEqual(npmStartEnv(), { NODE_COMPILE_CACHE: new URL('node_modules/.cache/node-compile-cache', root).pathname });
  const shebang = readFileSync(new URL('bin/secrets-gateway.js', root), 'utf8').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S ${['node', ...flags].join(' ')}`);
});
