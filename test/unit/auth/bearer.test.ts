// The Authorization header's parse: the fast path (no regex) must accept exactly what the regex
// accepts, and read the same token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenOfHeader } from '../../../src/auth/authenticate.ts';

const REFERENCE = /^Bearer +([^\s]+) *$/i;
const reference = (header: string): string | null => REFERENCE.exec(header)?.[1] ?? null;

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';

test('tokenOfHeader reads exactly what the Bearer regex reads', () => {
  const headers = [
    `Bearer ${JWT}`, `bearer ${JWT}`, `BEARER ${JWT}`, `Bearer   ${JWT}`, `Bearer ${JWT}  `, `Bearer ${JWT} x`,
    `Bearer ${JWT}\t`, `Bearer\t${JWT}`, `Bearer  `, 'Bearer ', 'Bearer', `Basic ${JWT}`, `Bearer${JWT}`,
    `Bearer ${JWT}\u00a0`, `Bearer ${JWT}\u00e9`, `Bearer ${JWT}\u2028`, `Bearer a\u000bb`, `Bearer ~!@#$%^&*()`,
    `Bearer ${JWT}\u007f`, 'Bearer x', ` Bearer ${JWT}`, '',
  ];
  for (const header of headers) assert.equal(tokenOfHeader(header), reference(header), JSON.stringify(header));
  assert.equal(tokenOfHeader(`Bearer ${JWT}`), JWT);
  assert.equal(tokenOfHeader(`Bearer ${JWT}\u007f`), `${JWT}\u007f`); // non-space, so the regex keeps it too
});
