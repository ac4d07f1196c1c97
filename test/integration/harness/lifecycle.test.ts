import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive, portIsFree, sleep, spawnManaged, venvTool, waitReady } from '../../helpers/servers/common.ts';
import { startHttpServer } from '../../helpers/servers/http.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/start-servers.ts', import.meta.url));
const ALL = ['redis', 'openbao', 'moto', 'gcp', 'postgres'];

interface Started {
  name: string;
  pid: number;
  port: number;
}

async function runFixture(mode: 'exit' | 'wait'): Promise<{ started: Started[]; child: ReturnType<typeof spawn>; tmp: string }> {
  // The fixture's temp dirs go under a dir of ours, removed afterwards (a SIGKILLed
  // process cannot clean up). 0711 so the postgres user can reach its own subdir.
  const tmp = mkdtempSync(join(tmpdir(), 'sg-lifecycle-'));
  chmodSync(tmp, 0o711);
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', FIXTURE, mode, ...ALL], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TMPDIR: tmp },
  });

  const rl = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((res, rej) => {
    rl.once('line', res);
    child.once('exit', (code) => rej(new Error(`fixture exited ${code} before printing pids`)));
  });
  rl.close();
  return { started: JSON.parse(line) as Started[], child, tmp };
}

async function allGone(started: Started[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = started.filter((s) => pidAlive(s.pid));
    const busy: Started[] = [];
    for (const s of started) if (!(await portIsFree(s.port))) busy.push(s);
    if (alive.length === 0 && busy.length === 0) return;
    if (Date.now() > deadline) {
      assert.fail(`still alive: ${JSON.stringify(alive)}; ports still bound: ${JSON.stringify(busy)}`);
    }
    await sleep(50);
  }
}

test('servers die with a test process that is SIGKILLed (parent-death signal)', async () => {
  const { started, child, tmp } = await runFixture('wait');
  assert.deepEqual(started.map((s) => s.name), ALL);
  for (const s of started) assert.equal(pidAlive(s.pid), true, `${s.name} should run`);
  child.kill('SIGKILL');
  await allGone(started);
  rmSync(tmp, { recursive: true, force: true });
});

test('servers die with a test process that exits without stopping them (exit hook)', async () => {
  const { started, child, tmp } = await runFixture('exit');
  await new Promise((r) => child.once('exit', r));
  await allGone(started);
  rmSync(tmp, { recursive: true, force: true });
});

test('a server that never gets ready fails with a clear error carrying its log tail, and is killed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-lifecycle-'));
  const log = join(dir, 'fake.log');
  const p = spawnManaged('sh', ['-c', 'echo "fake server: listening failed: marker-1234"; exec sleep 30'], { cwd: dir, logFile: log });
  await assert.rejects(
    waitReady('fake-server', p, async () => false, 500),
    (e: Error) => /fake-server was not ready within 500 ms/.test(e.message) && e.message.includes('marker-1234'),
  );
  assert.equal(p.isRunning(), false);
  rmSync(dir, { recursive: true, force: true });
});

test('a server that exits early fails with its exit code and log tail', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-lifecycle-'));
  const p = spawnManaged('sh', ['-c', 'echo "config error: marker-5678" >&2; exit 3'], { cwd: dir, logFile: join(dir, 'x.log') });
  await assert.rejects(
    waitReady('early-exit', p, async () => false, 5000),
    (e: Error) => /early-exit exited before it was ready \(code 3/.test(e.message) && e.message.includes('marker-5678'),
  );
  rmSync(dir, { recursive: true, force: true });
});

test('missing tools point at scripts/provision.sh', () => {
  assert.throws(() => venvTool('no-such-tool'), /run scripts\/provision\.sh/);
});

test('http helper: loopback server with request log, custom handler, stop and restart on the same port', async () => {
  const http = await startHttpServer();
  try {
    assert.match(http.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${http.url}/ping`, { method: 'POST', body: 'hi' });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ok: true });
    assert.equal(http.requests[0]?.body, 'hi');
    http.setHandler((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    assert.equal((await fetch(`${http.url}/`)).status, 503);
    await http.stop();
    assert.equal(await portIsFree(http.port), true);
    await assert.rejects(fetch(`${http.url}/`));
    await http.restart();
    assert.equal((await fetch(`${http.url}/`)).status, 503);
  } finally {
    await http.stop();
  }
});
