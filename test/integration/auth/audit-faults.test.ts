// The audit sink under a real full disk: a tmpfs of a few hundred kB mounted for the
// test (root only; skipped, saying so, where mount is not allowed). While writes fail,
// /v1 is refused, /readyz is 503 with the reason, and the metrics say so; once space is
// freed, the next retry writes the backlog and the replica serves again, with one
// unbroken chain. A write cut by the full disk and never completed (the process stopped
// meanwhile) leaves a torn line: `audit verify` reports it with its own exit status, and
// the next start repairs it (`audit_recovered`). EPERM comes from an immutable file
// (`chattr +i`, on a file system that has it): on the open file's writes, and on a
// rename that rotation needs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { readLine } from '../../../src/audit/chain.ts';
import { openFileSink } from '../../../src/audit/sink.ts';
import { parseExposition, sum } from '../../helpers/prometheus.ts';
import { registerSecrets, startTestGateway, tempDir } from '../../helpers/gateway.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const verify = (...paths: string[]) => spawnSync(process.execPath, [path.join(root, 'src/main.ts'), 'audit', 'verify', ...paths], { encoding: 'utf8', timeout: 20_000 });

const VALUE = 'audit-fault-value-91c2e';
registerSecrets([VALUE]);

/** A tmpfs of `kb` kB at a fresh directory, or why there cannot be one here. */
function mountTmpfs(kb: number): { dir: string } | { skip: string } {
  const dir = tempDir('sg-audit-tmpfs-');
  const res = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k,mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (res.status !== 0) return { skip: `cannot mount a tmpfs here (needs root): ${(res.stderr || res.error?.message || '').trim()}` };
  return { dir };
}

/** Fills the file system holding `dir` until ENOSPC; returns the filler file. */
function fillDisk(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(4096, 0x78);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return filler;
}

/** A gateway auditing to `auditFile` (with `audit` options besides), and a GET of one variable that keeps its request id. */
async function auditedGateway(auditFile: string, audit: Record<string, unknown> = {}) {
  const gw = await startTestGateway({ env: { AIRFLOW_VAR_A: VALUE }, config: { backends: [{ type: 'environment' }], audit: { file: auditFile, ...audit } } });
  const requestIds: string[] = [];
  const get = async () => {
    const id = randomUUID();
    requestIds.push(id);
    return await gw.inject({ method: 'GET', url: '/v1/variables/a', headers: { 'x-request-id': id } });
  };
  return { gw, requestIds, get };
}

/** Every event of an audit file, parsed. */
const eventsOf = (file: string): Array<Record<string, unknown>> => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

const mounts: string[] = [];
after(() => {
  for (const dir of mounts) spawnSync('umount', ['-l', dir]);
});

describe('audit sink faults (a real full disk)', () => {
  let tmpfs: { dir: string } | { skip: string };
  before(() => {
    tmpfs = mountTmpfs(512);
    if ('dir' in tmpfs) mounts.push(tmpfs.dir);
  });

  it('ENOSPC: /v1 refused and /readyz 503 with the reason while the disk is full; serves again once space is freed; one unbroken chain', async (t) => {
    if ('skip' in tmpfs) return t.skip(tmpfs.skip);
    const dir = path.join(tmpfs.dir, 'enospc');
    mkdirSync(dir);
    const auditFile = path.join(dir, 'audit.log');
    const { gw, requestIds, get } = await auditedGateway(auditFile);
    let filler: string | undefined;
    try {
      assert.equal((await get()).statusCode, 200);
      await sleep(20);
      filler = fillDisk(tmpfs.dir);
      // The audit file's last page still has room for a few lines: requests pass until it is used up.
      let refused;
      for (let i = 0; i < 400 && !refused; i++) {
        const res = await get();
        if (res.statusCode === 503) refused = res;
        else {
          assert.equal(res.statusCode, 200);
          await sleep(10);
        }
      }
      assert.ok(refused, 'a request is refused once the disk is full');
      assert.equal(refused.json().code, 'audit_unavailable');
      assert.ok(!refused.body.includes(VALUE));

      const ready = await gw.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503, '/readyz takes the replica out of service');
      const body = ready.json();
      assert.equal(body.status, 'unavailable');
      assert.equal(body.audit.state, 'failing');
      assert.equal(body.audit.error, 'ENOSPC');
      assert.equal(body.audit.on_failure, 'refuse');
      assert.equal(typeof body.audit.since, 'string');

      await sleep(300); // a few retries, still failing
      const metrics = parseExposition((await gw.inject({ method: 'GET', url: '/metrics' })).body);
      assert.ok(sum(metrics, 'secrets_gateway_audit_sink_failures_total', { code: 'ENOSPC' }) >= 2, 'each failed attempt counts');
      assert.equal(sum(metrics, 'secrets_gateway_audit_sink_up'), 0);
      assert.equal((await get()).statusCode, 503, 'still refused while the disk is full');

      rmSync(filler);
      filler = undefined;
      const freedAt = Date.now();
      let served = false;
      while (!served && Date.now() - freedAt < 5000) {
        served = (await get()).statusCode === 200;
        if (!served) await sleep(50);
      }
      assert.ok(served, 'serves again once space is freed');
      assert.ok(Date.now() - freedAt < 2500, `within the 2 s retry cap (took ${Date.now() - freedAt} ms)`);
      const readyAgain = await gw.inject({ method: 'GET', url: '/readyz' });
      assert.equal(readyAgain.statusCode, 200);
      assert.equal(readyAgain.json().audit, undefined, 'the audit part is there only while the sink fails');
      const after = parseExposition((await gw.inject({ method: 'GET', url: '/metrics' })).body);
      assert.equal(sum(after, 'secrets_gateway_audit_sink_up'), 1);
      assert.equal(sum(after, 'secrets_gateway_audit_events_dropped_total'), 0);
    } finally {
      if (filler) rmSync(filler, { force: true });
      await gw.close();
    }
    assert.deepEqual(gw.contractProblems, []);

    // Every request has exactly one event, the refused ones included (kept while the disk was full).
    const events = eventsOf(auditFile);
    const access = events.filter((e) => e.type === 'access');
    assert.deepEqual(access.map((e) => e.request_id), requestIds);
    assert.ok(access.some((e) => e.reason === 'audit_unavailable' && e.status === 503));
    const resumed = events.filter((e) => e.type === 'audit_resumed');
    assert.equal(resumed.length, 1);
    assert.equal(resumed[0]!.error, 'ENOSPC');
    assert.equal(resumed[0]!.dropped, 0);
    const ok = verify(auditFile);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /hash chain intact/);
  });

  it('keeps a bounded backlog while the disk is full: the events beyond are dropped, counted, and audit_resumed says how many', async (t) => {
    if ('skip' in tmpfs) return t.skip(tmpfs.skip);
    const dir = path.join(tmpfs.dir, 'backlog');
    mkdirSync(dir);
    const file = path.join(dir, 'audit.log');
    const counted = { dropped: 0, failures: 0 };
    const observer = { failure: () => counted.failures++, dropped: (n: number) => (counted.dropped += n), rotated: () => {} };
    const sink = openFileSink(file, pino({ level: 'silent' }), { rotate: false, observer, maxBacklog: 10 });
    const filler = fillDisk(tmpfs.dir);
    try {
      // Enough to fill the file's last page, so a write fails and the sink starts keeping a backlog.
      for (let i = 0; i < 40 && sink.healthy; i++) {
        for (let j = 0; j < 256; j++) sink.write({ type: 'access', i, j });
        await sleep(10);
      }
      assert.equal(sink.healthy, false);
      for (let i = 0; i < 50; i++) sink.write({ type: 'access', late: i });
      assert.equal(sink.status().queued, 10);
      assert.equal(sink.dropped, 40);
      assert.equal(counted.dropped, 40);
      assert.ok(counted.failures >= 1);
    } finally {
      rmSync(filler);
    }
    for (let i = 0; i < 60 && !sink.healthy; i++) await sleep(50);
    assert.ok(sink.healthy, 'writes again once space is freed');
    await sink.close();
    const events = eventsOf(file);
    assert.deepEqual(events.filter((e) => 'late' in e).map((e) => e.late), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the first ten kept, in order');
    assert.deepEqual(events.filter((e) => e.type === 'audit_resumed').map((e) => [e.error, e.dropped]), [['ENOSPC', 40]]);
    const ok = verify(file);
    assert.equal(ok.status, 0, ok.stderr);
  });

  it('a write cut by the full disk and never completed is a torn tail: verify exits 6; the next start repairs it (audit_recovered) and verify passes', async (t) => {
    if ('skip' in tmpfs) return t.skip(tmpfs.skip);
    const dir = path.join(tmpfs.dir, 'torn');
    mkdirSync(dir);
    const auditFile = path.join(dir, 'audit.log');
    const config = { backends: [{ type: 'environment' }], audit: { file: auditFile } };
    const first = await startTestGateway({ env: { AIRFLOW_VAR_A: VALUE }, config });
    let filler: string | undefined;
    try {
      assert.equal((await first.inject({ method: 'GET', url: '/v1/variables/a' })).statusCode, 200);
      await sleep(20);
      assert.notEqual(statSync(auditFile).size % 4096, 0, 'the last page has room left (the test needs a short write)');
      filler = fillDisk(tmpfs.dir);
      // One batch of 40 events (~24 kB) into the last page's few free bytes: a short write, then ENOSPC.
      const ids = Array.from({ length: 40 }, (_, i) => `v${i}`);
      assert.equal((await first.inject({ method: 'POST', url: '/v1/lookup', payload: { variables: ids } })).statusCode, 200);
      await sleep(50);
      assert.equal(first.audit?.sink.healthy, false);
    } finally {
      // The process stops while the disk is still full: the cut line is never completed.
      await first.close();
      if (filler) rmSync(filler, { force: true });
    }
    const data = readFileSync(auditFile);
    assert.notEqual(data.at(-1), 0x0a, 'the file ends in a torn line');
    const tornBytes = data.length - (data.lastIndexOf(0x0a) + 1);

    const torn = verify(auditFile);
    assert.equal(torn.status, 6, torn.stderr);
    assert.match(torn.stderr, /TORN/);
    assert.match(torn.stderr, new RegExp(`an incomplete last line of ${tornBytes} bytes`));
    assert.doesNotMatch(torn.stderr, /TAMPERED/);

    const second = await startTestGateway({ env: { AIRFLOW_VAR_A: VALUE }, config });
    assert.equal((await second.inject({ method: 'GET', url: '/v1/variables/a' })).statusCode, 200);
    await second.close();
    assert.match(second.logs.join(''), /repaired a torn last line/);

    const lines = readFileSync(auditFile, 'utf8').trimEnd().split('\n');
    const tornAt = lines.findIndex((l) => readLine(l) === null);
    assert.ok(tornAt > 0, 'the torn line stays, terminated');
    const recovered = readLine(lines[tornAt + 1]!)!;
    const before = readLine(lines[tornAt - 1]!)!;
    assert.equal(recovered.event.type, 'audit_recovered');
    assert.equal(recovered.event.torn_bytes, tornBytes);
    assert.equal(recovered.prev, before.hash, 'the chain continues from the last whole line');
    assert.equal(recovered.seq, before.seq + 1);
    assert.equal(readLine(lines[tornAt + 2]!)!.event.type, 'audit_start');

    const ok = verify(auditFile);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /hash chain intact/);
    assert.match(ok.stdout, new RegExp(`line ${tornAt + 1}: a torn write of ${tornBytes} bytes, repaired by the next start`));
  });
});

/** `chattr` on `file`, or why it cannot be done here (tmpfs and overlay file systems have no immutable flag). */
function chattr(flag: '+i' | '-i', file: string): string | undefined {
  const res = spawnSync('chattr', [flag, file], { encoding: 'utf8' });
  return res.status === 0 ? undefined : `chattr ${flag} is not available here: ${(res.stderr || res.error?.message || '').trim()}`;
}

describe('audit sink faults (EPERM: an immutable file)', () => {
  it('EPERM on the open file: refused and unready while it lasts, serving again after; one event per request, verify passes', async (t) => {
    const dir = tempDir();
    const auditFile = path.join(dir, 'audit.log');
    const { gw, requestIds, get } = await auditedGateway(auditFile);
    let immutable = false;
    try {
      assert.equal((await get()).statusCode, 200);
      const why = chattr('+i', auditFile);
      if (why) return t.skip(why);
      immutable = true;
      await get(); // its event's write fails
      await sleep(30);
      const refused = await get();
      assert.equal(refused.statusCode, 503);
      assert.equal(refused.json().code, 'audit_unavailable');
      const ready = await gw.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().audit.error, 'EPERM');
      assert.equal(chattr('-i', auditFile), undefined);
      immutable = false;
      let served = false;
      for (let i = 0; i < 60 && !served; i++) {
        served = (await get()).statusCode === 200;
        if (!served) await sleep(50);
      }
      assert.ok(served, 'serves again once the file is writable');
    } finally {
      if (immutable) chattr('-i', auditFile);
      await gw.close();
    }
    const events = eventsOf(auditFile);
    assert.deepEqual(events.filter((e) => e.type === 'access').map((e) => e.request_id), requestIds);
    assert.equal(events.filter((e) => e.type === 'audit_resumed')[0]?.error, 'EPERM');
    const ok = verify(auditFile);
    assert.equal(ok.status, 0, ok.stderr);
  });

  it('EPERM on a rotation (a rotated file that cannot be renamed): the rotation is retried and completes; no event lost, the set verifies', async (t) => {
    const dir = path.join(tempDir(), 'audit');
    const auditFile = path.join(dir, 'audit.log');
    const { gw, requestIds, get } = await auditedGateway(auditFile, { rotate: { max_bytes: 8192, keep: 20 } });
    const first = path.join(dir, 'audit.log.1');
    let immutable = false;
    try {
      for (let i = 0; i < 200 && !existsSync(first); i++) {
        assert.equal((await get()).statusCode, 200);
        await sleep(6);
      }
      assert.ok(existsSync(first), 'a first rotation');
      const why = chattr('+i', first);
      if (why) return t.skip(why);
      immutable = true;
      let refused = false;
      for (let i = 0; i < 200 && !refused; i++) {
        refused = (await get()).statusCode === 503;
        if (!refused) await sleep(6);
      }
      assert.ok(refused, 'the next rotation fails (audit.log.1 cannot become audit.log.2): refused');
      assert.equal((await gw.inject({ method: 'GET', url: '/readyz' })).json().audit.error, 'EPERM');
      assert.equal(chattr('-i', first), undefined);
      immutable = false;
      let served = false;
      for (let i = 0; i < 60 && !served; i++) {
        served = (await get()).statusCode === 200;
        if (!served) await sleep(50);
      }
      assert.ok(served);
    } finally {
      if (immutable) chattr('-i', first);
      await gw.close();
    }
    assert.ok(existsSync(path.join(dir, 'audit.log.2')), 'the rotation completed');
    const events = readdirSync(dir).flatMap((f) => eventsOf(path.join(dir, f)));
    const seen = events.filter((e) => e.type === 'access').map((e) => e.request_id as string);
    assert.deepEqual([...seen].sort(), [...requestIds].sort(), 'one event per request across the files');
    const ok = verify(dir);
    assert.equal(ok.status, 0, ok.stderr);
  });
});
