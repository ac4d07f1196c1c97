// The built bundle (dist/cli.js, what the image runs): Node keeps an ES module's source alive outside
// the V8 heap, at two bytes per character once the source holds a single non-ASCII one, which cost
// ~2 MB of RSS at ready (bench/optimization-log.md). esbuild escapes non-ASCII text in code; the
// licence comments go to dist/cli.js.LEGAL.txt (scripts/bundle.ts). `npm test` builds dist/ first.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const dist = new URL('../../dist/', import.meta.url);

test('dist/cli.js is ASCII only, and its licence comments are kept beside it', () => {
  const bundle = readFileSync(new URL('cli.js', dist));
  const at = bundle.findIndex((byte) => byte > 0x7f);
  assert.equal(at, -1, `a non-ASCII byte at offset ${at}: ${bundle.subarray(Math.max(0, at - 60), at + 20).toString('utf8')}`);
  assert.match(readFileSync(new URL('cli.js.LEGAL.txt', dist), 'utf8'), /License/);
});
