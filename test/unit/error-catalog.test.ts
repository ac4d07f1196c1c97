// The error catalog (src/errors.ts) is the one list of problem codes: the README's error table
// (or the docs/ page it moved to) and openapi.yaml's Problem `code` description name exactly its
// codes, the table with the catalog's status for each.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERRORS, GatewayError, problem, type ErrorCode } from '../../src/errors.ts';
import { openApiDocument } from '../../src/http/openapi.ts';
import { BACKEND_ERRORS, BackendError } from '../../src/backends/types.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CATALOG = Object.keys(ERRORS).sort();
const TABLE_HEADER = '| code | status | when |';

/** The rows of the one `| code | status | when |` table in README.md and docs/*.md: code → status. */
function documentedTable(): Map<string, number> {
  let docs: string[] = [];
  try {
    docs = readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f));
  } catch {
    // no docs/ folder
  }
  const holders = ['README.md', ...docs].filter((f) => readFileSync(path.join(ROOT, f), 'utf8').includes(TABLE_HEADER));
  assert.equal(holders.length, 1, `exactly one of README.md, docs/*.md has the error table (${TABLE_HEADER}); found: ${holders.join(', ') || 'none'}`);
  const lines = readFileSync(path.join(ROOT, holders[0]!), 'utf8').split('\n');
  const start = lines.indexOf(TABLE_HEADER);
  const rows = new Map<string, number>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [codeCell, statusCell] = line.split('|').slice(1, 3).map((c) => c.trim());
    // `a` / `b` | 400 / 409: one row for two codes, the statuses in the same order.
    const codes = [...codeCell!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
    const statuses = statusCell!.split('/').map((s) => Number(s.trim()));
    assert.ok(codes.length > 0, `a row of the error table names a code: ${line}`);
    codes.forEach((code, i) => {
      assert.ok(!rows.has(code), `${code} is in the error table once`);
      rows.set(code, statuses[statuses.length === 1 ? 0 : i]!);
    });
  }
  return rows;
}

describe('the error catalog', () => {
  it('is the README error table, code for code and status for status', () => {
    const table = documentedTable();
    assert.deepEqual([...table.keys()].sort(), CATALOG);
    for (const [code, status] of table) assert.equal(status, ERRORS[code as ErrorCode].status, `${code}'s status`);
  });

  it("is openapi.yaml's Problem code list", () => {
    const problemSchema = (openApiDocument() as unknown as { components: { schemas: { Problem: { properties: { code: { description: string } } } } } }).components.schemas.Problem;
    const description = problemSchema.properties.code.description;
    // A prose list: each code is the word before a comma, a semicolon or the final full stop.
    const listed = [...description.matchAll(/([a-z][a-z_]*)(?=[,;.]|$)/g)].map((m) => m[1]!);
    assert.deepEqual([...new Set(listed)].sort(), CATALOG);
    assert.equal(listed.length, CATALOG.length, 'each code once');
  });

  it('gives each constructor its code, status and title, and nothing else', () => {
    for (const code of CATALOG as ErrorCode[]) {
      const error = problem[code]('why', { extra: 1 });
      assert.ok(error instanceof GatewayError);
      assert.deepEqual([error.code, error.status, error.title, error.message, error.extras], [code, ERRORS[code].status, ERRORS[code].title, 'why', { extra: 1 }]);
    }
  });

  it('names every backend error code with its meaning, and decryption failures one way', () => {
    for (const [code, meaning] of Object.entries(BACKEND_ERRORS)) {
      assert.match(code, /^[a-z]+(_[a-z]+)*$/);
      assert.ok(meaning.length > 10, `${code} has a meaning`);
    }
    assert.equal(new BackendError('decrypt_failed', 'x').code, 'decrypt_failed');
    assert.ok(!('decryption_failure' in BACKEND_ERRORS) && !('decryption_failed' in BACKEND_ERRORS));
  });
});
