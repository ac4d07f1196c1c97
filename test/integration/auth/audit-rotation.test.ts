// Audit rotation with an unbroken hash chain. Under a sustained load over real HTTP the
// file sink crosses many size rotations: every request has exactly one event across the
// files, and `audit verify` over the directory passes; a missing middle file, two files
// swapped and an edited line each fail it with their own exit status, while the oldest
// file gone (rotated away once `keep` is reached) is expected. A `serve` process under
// load whose file is renamed away (logrotate's `create` mode) and then sent SIGHUP loses
// no event either.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { readLine } from '../../../src/audit/chain.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { ARTIFACTS_DIR, READ_ALL, registerSecrets, startTestGateway, tempDir, writeTestAccessControl } from '../../helpers/gateway.ts';
import { REPO_ROOT, freePort, makeTempDir, spawnManaged, waitReady } from '../../helpers/servers/common.ts';

const verify = (...paths: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'src/main.ts'), 'audit', 'verify', ...paths], { encoding: 'utf8', timeout: 30_000 });

const VALUE = 'audit-rotation-value-3b8d0';
registerSecrets([VALUE]);

/** Every line of every file in `dir`, parsed. */
function eventsIn(dir: string): Array<Record<string, unknown>> {
  return readdirSync(dir).flatMap((f) =>
    readFileSync(path.join(dir, f), 'utf8')
      .trimEnd()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

/** Copies the audit files into the artifacts (flat), for the leak check after the suite. */
function keepForLeakCheck(dir: string, prefix: string): void {
  mkdirSync(path.join(ARTIFACTS_DIR, 'audit'), { recursive: true });
  for (const f of readdirSync(dir)) copyFileSync(path.join(dir, f), path.join(ARTIFACTS_DIR, 'audit', `${prefix}-${f}`));
}

/** `clients` loops sending GETs for `ms` (or until `max` were sent), each with its own request id; returns the ids of the requests answered. */
async function load(base: string, bearer: string, clients: number, ms: number, during?: () => Promise<void>, max = Infinity): Promise<string[]> {
  const ids: string[] = [];
  const end = Date.now() + ms;
  let sent = 0;
  const loop = async () => {
    while (Date.now() < end && sent++ < max) {
      const id = randomUUID();
      const res = await fetch(`${base}/v1/variables/a`, { headers: { authorization: bearer, 'x-request-id': id } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      ids.push(id);
    }
  };
  await Promise.all([...Array.from({ length: clients }, loop), during?.()]);
  return ids;
}

function assertOneEventPerRequest(events: Array<Record<string, unknown>>, ids: string[]): void {
  const seen = new Map<unknown, number>();
  for (const e of events) if (e.type === 'access') seen.set(e.request_id, (seen.get(e.request_id) ?? 0) + 1);
  assert.equal(seen.size, ids.length, 'as many access events as requests');
  for (const id of ids) assert.equal(seen.get(id), 1, `request ${id}: exactly one event`);
}

describe('audit rotation', () => {
  it('defaults: the file sink rotates at 100 MiB and keeps 9 (at most 1 GiB)', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'c.yaml'), 'backends: [{ type: environment }]\n');
    assert.deepEqual(loadConfig({ configPath: path.join(dir, 'c.yaml'), env: {} }).config.audit.rotate, { max_bytes: 104857600, keep: 9 });
  });

  it('a sustained load crosses many rotations: one event per request across the files, verify passes; a missing middle file, swapped files and an edited line each fail with their own exit status', async (t) => {
    const auditDir = path.join(tempDir(), 'audit');
    const maxBytes = 16 * 1024;
    const gw = await startTestGateway({
      env: { AIRFLOW_VAR_A: VALUE },
      config: { backends: [{ type: 'environment' }], auth: { rate_limit: false }, audit: { file: path.join(auditDir, 'audit.log'), rotate: { max_bytes: maxBytes, keep: 1000 } } },
    });
    const address = await gw.app.listen({ host: '127.0.0.1', port: 0 });
    let ids: string[];
    try {
      // 8 connections without pause: 1,500 requests, or what 20 s allow on a busy machine.
      ids = await load(address, `Bearer ${gw.token()}`, 8, 20_000, undefined, 1500);
    } finally {
      await gw.close();
    }
    keepForLeakCheck(auditDir, 'rotation');
    const files = readdirSync(auditDir);
    const rotated = files.filter((f) => /^audit\.log\.\d+$/.test(f)).length;
    t.diagnostic(`${ids.length} requests over 8 connections, ${rotated} rotations`);
    assert.ok(ids.length >= 300, `a sustained load (${ids.length} requests)`);
    assert.ok(rotated >= 5, `several rotations (${rotated} for ${ids.length} requests)`);
    assert.deepEqual(files.sort(), ['audit.log', ...Array.from({ length: rotated }, (_, i) => `audit.log.${i + 1}`)].sort());
    for (const f of files) assert.ok(statSync(path.join(auditDir, f)).size <= maxBytes, `${f} stays within max_bytes`);
    assertOneEventPerRequest(eventsIn(auditDir), ids);
    // Each new file begins with the event that carries the chain over and names the file before it.
    for (let i = rotated - 1; i >= 0; i--) {
      const first = readLine(readFileSync(path.join(auditDir, i === 0 ? 'audit.log' : `audit.log.${i}`), 'utf8').split('\n')[0]!)!;
      assert.equal(first.event.type, 'audit_rotated');
      assert.equal(first.event.previous, 'audit.log.1');
    }

    const ok = verify(auditDir);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`${rotated + 1} files .*OK, \\d+ lines, hash chain intact`));
    const all = verify(...files.map((f) => path.join(auditDir, f))); // as a shell glob lists them: ordered by rotation number
    assert.equal(all.status, 0, all.stderr);

    const variant = (name: string, change: (dir: string) => void) => {
      const dir = path.join(tempDir(), name);
      cpSync(auditDir, dir, { recursive: true });
      change(dir);
      return verify(dir);
    };
    const middle = Math.ceil(rotated / 2);
    const missing = variant('missing', (dir) => rmSync(path.join(dir, `audit.log.${middle}`)));
    assert.equal(missing.status, 4, missing.stderr);
    assert.match(missing.stderr, /TAMPERED \(a file of the set is missing\)/);
    assert.match(missing.stderr, new RegExp(`audit\\.log\\.${middle - 1}: begins at sequence \\d+, but .*audit\\.log\\.${middle + 1} ends at \\d+: a file between them is missing`));

    const swapped = variant('swapped', (dir) => {
      renameSync(path.join(dir, 'audit.log.2'), path.join(dir, 'x'));
      renameSync(path.join(dir, 'audit.log.3'), path.join(dir, 'audit.log.2'));
      renameSync(path.join(dir, 'x'), path.join(dir, 'audit.log.3'));
    });
    assert.equal(swapped.status, 5, swapped.stderr);
    assert.match(swapped.stderr, /TAMPERED \(files are out of order\)/);

    const edited = variant('edited', (dir) => {
      const file = path.join(dir, 'audit.log.2');
      writeFileSync(file, readFileSync(file, 'utf8').replace('"status":200', '"status":404'));
    });
    assert.equal(edited.status, 1, edited.stderr);
    assert.match(edited.stderr, /TAMPERED \(a line was edited\)/);
    assert.match(edited.stderr, /audit\.log\.2: line \d+: content does not match its hash \(edited\)/);

    const oldestGone = variant('oldest-gone', (dir) => rmSync(path.join(dir, `audit.log.${rotated}`)));
    assert.equal(oldestGone.status, 0, `the oldest file rotated away is expected: ${oldestGone.stderr}`);
    assert.match(oldestGone.stdout, /after a file that is no longer kept/);
  });

  it('keeps at most `keep` rotated files; the set left verifies', async () => {
    const auditDir = path.join(tempDir(), 'audit');
    const gw = await startTestGateway({
      env: { AIRFLOW_VAR_A: VALUE },
      config: { backends: [{ type: 'environment' }], audit: { file: path.join(auditDir, 'audit.log'), rotate: { max_bytes: 4096, keep: 2 } } },
    });
    for (let i = 0; i < 60; i++) assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/a' })).statusCode, 200);
    await gw.close();
    keepForLeakCheck(auditDir, 'rotation-keep');
    assert.deepEqual(readdirSync(auditDir).sort(), ['audit.log', 'audit.log.1', 'audit.log.2']);
    const metrics = gw.metrics.registry.getSingleMetricAsString('secrets_gateway_audit_rotations_total');
    assert.match(await metrics, /secrets_gateway_audit_rotations_total\{reason="size"\} ([5-9]|\d{2,})/);
    const ok = verify(auditDir);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /no longer kept/);
  });

  it('SIGHUP under load, the file renamed away first (logrotate `create`): no event lost or duplicated, the chain runs on into the new file', async () => {
    const dir = makeTempDir('audit-sighup');
    const auditDir = path.join(dir, 'audit');
    const port = await freePort();
    const access = writeTestAccessControl(dir, `sighup-${port}`);
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(
      configPath,
      stringify({
        auth: { ...access.auth, rate_limit: false },
        audit: { ...access.audit, file: path.join(auditDir, 'audit.log'), rotate: false },
        server: { host: '127.0.0.1', port, drain_seconds: 0 },
        log: { level: 'info' },
        backends: [{ type: 'environment' }],
      }),
    );
    const proc = spawnManaged(process.execPath, [path.join(REPO_ROOT, 'src/main.ts'), 'serve', '--config', configPath], {
      cwd: dir,
      logFile: path.join(dir, 'gateway.log'),
      env: { AIRFLOW_VAR_A: VALUE },
    });
    const base = `http://127.0.0.1:${port}`;
    let ids: string[];
    try {
      await waitReady('gateway', proc, async () => (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(500) })).ok, 20_000);
      ids = await load(base, `Bearer ${access.token(READ_ALL)}`, 6, 3000, async () => {
        await sleep(1000);
        renameSync(path.join(auditDir, 'audit.log'), path.join(auditDir, 'audit.log.1'));
        writeFileSync(path.join(auditDir, 'audit.log'), '', { mode: 0o600 }); // logrotate's `create`
        await sleep(100); // requests meanwhile still go to the renamed file, which the gateway holds open
        proc.child.kill('SIGHUP');
      });
    } finally {
      await proc.stop(10_000);
    }
    keepForLeakCheck(auditDir, `sighup-${port}`);
    assert.match(readFileSync(path.join(dir, 'gateway.log'), 'utf8'), /SIGHUP: reopening the audit log/);
    const before = readFileSync(path.join(auditDir, 'audit.log.1'), 'utf8').trimEnd().split('\n');
    const now = readFileSync(path.join(auditDir, 'audit.log'), 'utf8').trimEnd().split('\n');
    assert.ok(before.length > 10 && now.length > 10, `both files hold events (${before.length}, ${now.length} lines)`);
    const first = readLine(now[0]!)!;
    assert.deepEqual([first.event.type, first.event.reason, first.event.previous], ['audit_rotated', 'reopen', 'audit.log.1']);
    assert.equal(first.prev, readLine(before.at(-1)!)!.hash, 'the new file continues the chain of the renamed one');
    assertOneEventPerRequest(eventsIn(auditDir), ids);
    const ok = verify(auditDir);
    assert.equal(ok.status, 0, ok.stderr);
  });
});
