// The audit chain and the file sink on a real file system (no faults here: those are in
// test/integration/auth/audit-faults.test.ts): the order `audit verify` takes a set in,
// a line cut only before its newline, a new chain at a file boundary, an edit whose hash
// was recomputed, and rotation by bytes with multi-byte ids.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { appendChainLine, chainLine, GENESIS, readLine, verifySet } from '../../../src/audit/chain.ts';
import { openFileSink } from '../../../src/audit/sink.ts';
import { auditFiles, verifyAuditFiles } from '../../../src/audit/verify-command.ts';
import { tempDir } from '../../helpers/gateway.ts';

const logger = pino({ level: 'silent' });
const lines = (n: number, from = { seq: 0, hash: GENESIS }) => {
  let state = from;
  let text = '';
  for (let i = 0; i < n; i++) {
    const next = chainLine({ type: 'access', i }, state);
    text += next.line;
    state = next.state;
  }
  return { text, state };
};

describe('audit chain', () => {
  it('takes a set oldest first by rotation number, whatever order it is given in', () => {
    const dir = tempDir();
    for (const f of ['audit.log', 'audit.log.1', 'audit.log.2', 'audit.log.10']) writeFileSync(path.join(dir, f), '');
    const given = ['audit.log', 'audit.log.10', 'audit.log.2', 'audit.log.1'].map((f) => path.join(dir, f));
    assert.deepEqual(auditFiles(given).map((f) => path.basename(f)), ['audit.log.10', 'audit.log.2', 'audit.log.1', 'audit.log']);
    assert.deepEqual(auditFiles([dir]).map((f) => path.basename(f)), ['audit.log.10', 'audit.log.2', 'audit.log.1', 'audit.log']);
  });

  it('a last line cut only before its newline is terminated at start, with no audit_recovered', async () => {
    const file = path.join(tempDir(), 'audit.log');
    const { text } = lines(3);
    writeFileSync(file, text.slice(0, -1));
    assert.equal(verifyAuditFiles([file]).exit, 6, 'unterminated: torn until repaired');
    const sink = openFileSink(file, logger);
    await sink.close();
    const after = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(after.length, 4);
    assert.equal(readLine(after[3]!)!.event.type, 'audit_start');
    assert.equal(readLine(after[3]!)!.seq, 4);
    assert.equal(verifyAuditFiles([file]).exit, 0);
  });

  it('accepts a new chain at a file boundary (a log removed, then a fresh start), and reports an edit whose hash was recomputed', () => {
    const a = lines(3);
    const b = lines(2);
    assert.deepEqual(verifySet([{ name: 'a.1', read: () => Buffer.from(a.text) }, { name: 'a', read: () => Buffer.from(b.text) }]).exit, 0);

    const edited = a.text.split('\n');
    const body = JSON.stringify({ type: 'access', i: 99, seq: 2, prev: readLine(edited[0]!)!.hash });
    edited[1] = `${body.slice(0, -1)},"hash":"${createHash('sha256').update(body).digest('hex')}"}`;
    const result = verifySet([{ name: 'x', read: () => Buffer.from(edited.join('\n')) }]);
    assert.equal(result.exit, 1);
    assert.match(result.problems[0]!.message, /line 3: does not follow line 2 .*a line was edited/);
  });

  it('rotates by bytes, not characters: files of multi-byte ids stay within max_bytes, and the set verifies', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'audit.log');
    const sink = openFileSink(file, logger, { rotate: { max_bytes: 4096, keep: 50 } });
    for (let i = 0; i < 300; i++) sink.write({ type: 'access', id: `données-ключ-密钥-${i}`.repeat(3) });
    await sink.close();
    const files = readdirSync(dir);
    assert.ok(files.length > 10);
    for (const f of files) assert.ok(statSync(path.join(dir, f)).size <= 4096, `${f}: ${statSync(path.join(dir, f)).size} bytes`);
    const result = verifyAuditFiles([dir]);
    assert.equal(result.exit, 0, result.text);
    const ids = files.flatMap((f) => readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { id?: string })).filter((e) => e.id);
    assert.equal(new Set(ids.map((e) => e.id)).size, 300);
  });

  it('appendChainLine writes the very bytes chainLine gives, in place, and asks for room rather than cut a line', () => {
    const events = [{ type: 'access', id: 'ü/日本/😀', n: 1, nested: { a: [1, null, 'x'] } }, { type: 'audit_start', time: 't', pid: 1 }, { type: 'access', text: '"\\\n' }];
    const out = Buffer.alloc(4096);
    let state = { seq: 41, hash: GENESIS };
    let expected = '';
    let end = 0;
    for (const event of events) {
      const next = { seq: 0, hash: '' };
      end = appendChainLine(out, end, event, state, next);
      const want = chainLine(event, state);
      expected += want.line;
      assert.deepEqual(next, want.state);
      state = next;
    }
    assert.equal(out.subarray(0, end).toString('utf8'), expected);
    assert.equal(readLine(expected.split('\n')[0]!)?.intact, true);
    const small = Buffer.alloc(64);
    assert.equal(appendChainLine(small, 0, events[0]!, state, { seq: 0, hash: '' }), -1);
  });
});
