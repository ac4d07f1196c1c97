// A rolling restart seen from the clients: a real `serve` process gets SIGTERM while keep-alive
// clients loop through it. The drain (src/http/drain.ts) must cost them no request: no reset, no 5xx.
import assert from 'node:assert/strict';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { registerSecrets, writeTestAccessControl } from '../helpers/gateway.ts';
import { REPO_ROOT, freePort, makeTempDir, sleep, spawnManaged, tailFile, waitReady } from '../helpers/servers/common.ts';

const VALUE = 'drain-test-value-3b1f9c';
const CLIENTS = 20;
const DRAIN_SECONDS = 2;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  socket: Socket;
}

function get(port: number, path: string, agent: Agent | false, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket: req.socket as Socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('SIGTERM on a serve process (drain)', () => {
  it('keep-alive clients looping through it see no reset and no failed request; /readyz turns 503 at once; an idle connection is closed only after the drain; exit 0', async () => {
    const dir = makeTempDir('drain');
    const port = await freePort();
    const access = writeTestAccessControl(dir, `drain-${port}`);
    registerSecrets([VALUE]);
    const configPath = join(dir, 'config.yaml');
    writeFileSync(
      configPath,
      stringify({
        audit: access.audit,
        server: { host: '127.0.0.1', port, drain_seconds: DRAIN_SECONDS, shutdown_timeout_seconds: 5 },
        auth: { ...access.auth, rate_limit: false },
        log: { level: 'info' },
        backends: [{ type: 'environment' }],
      }),
    );
    const proc = spawnManaged(process.execPath, [join(REPO_ROOT, 'src/main.ts'), 'serve', '--config', configPath], {
      cwd: dir,
      logFile: join(dir, 'gateway.log'),
      env: { AIRFLOW_VAR_DRAIN_KEY: VALUE },
    });
    try {
      await waitReady('gateway', proc, async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) })).ok, 20_000, 50);
      const auth = { authorization: `Bearer ${access.token(['variables:read:*'])}` };

      // A keep-alive connection that serves one request before the signal, then stays quiet.
      const idleAgent = new Agent({ keepAlive: true, maxSockets: 1 });
      const first = await get(port, '/v1/variables/drain_key', idleAgent, auth);
      assert.equal(first.status, 200);
      let idleClosedAt = 0;
      let idleError: string | undefined;
      first.socket.on('error', (e: NodeJS.ErrnoException) => (idleError = e.code));
      first.socket.on('close', () => (idleClosedAt = Date.now()));

      let signalledAt = 0;
      let drainSeenAt = 0;
      const tally = { ok: 0, closeAfterSignal: 0, keepAliveAfterSignal: 0, refused: 0, resets: 0, failures: [] as string[] };
      const loop = async () => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        for (;;) {
          // Within the drain, the endpoints controller and kube-proxy stop sending new connections here:
          // the client's next connection goes to another replica. (Connections still queued when the
          // listener closes would be reset by the kernel, whatever the server does: that is what the drain is for.)
          if (signalledAt && Date.now() - signalledAt > DRAIN_SECONDS * 500) return;
          const sentAt = Date.now();
          try {
            const res = await get(port, '/v1/variables/drain_key', agent, auth);
            if (res.status !== 200 && tally.failures.length < 10) tally.failures.push(`status ${res.status}`);
            else tally.ok++;
            if (signalledAt && res.headers.connection === 'close') tally.closeAfterSignal++;
            // A request sent once the gateway was seen draining must be answered with Connection: close.
            if (drainSeenAt && sentAt > drainSeenAt && res.headers.connection !== 'close') tally.keepAliveAfterSignal++;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code ?? String(err);
            if (code === 'ECONNREFUSED') tally.refused++;
            else if (code === 'ECONNRESET' || code === 'EPIPE') tally.resets++;
            else tally.failures.push(code);
            return;
          }
        }
      };
      const clients = Array.from({ length: CLIENTS }, loop);
      await sleep(500);
      const exited = proc.exited;
      proc.child.kill('SIGTERM');
      signalledAt = Date.now();
      await sleep(100);

      const ready = await get(port, '/readyz', false);
      drainSeenAt = Date.now();
      assert.equal(ready.status, 503, 'readiness fails as soon as the drain begins');
      assert.equal(JSON.parse(ready.body).draining, true);
      assert.equal(ready.headers.connection, 'close');
      assert.equal(idleClosedAt, 0, 'an idle keep-alive connection stays open during the drain');

      await Promise.all(clients);
      const exit = await exited;
      const log = tailFile(join(dir, 'gateway.log'));
      assert.equal(tally.resets, 0, `no client sees a reset: ${JSON.stringify(tally)}`);
      assert.deepEqual(tally.failures, [], 'no request fails');
      assert.equal(tally.keepAliveAfterSignal, 0, 'every response of the drain closes its connection');
      assert.equal(tally.refused, 0, 'new connections are accepted during the drain');
      assert.ok(tally.closeAfterSignal >= CLIENTS, `clients kept being served during the drain: ${JSON.stringify(tally)}`);
      assert.ok(idleClosedAt - signalledAt >= DRAIN_SECONDS * 1000 - 50, `the idle connection is closed after the drain (${idleClosedAt - signalledAt} ms)`);
      assert.equal(idleError, undefined, 'closing the idle connection is not an error for its client');
      assert.deepEqual(exit, { code: 0, signal: null }, log);
      assert.match(log, /"msg":"stopped"/);
      assert.ok(!log.includes(VALUE));
    } finally {
      await proc.stop();
    }
  });

  it('SIGINT (Ctrl-C) skips the drain period: exit 0 at once, with the default drain_seconds', async () => {
    const dir = makeTempDir('drain-int');
    const port = await freePort();
    const access = writeTestAccessControl(dir, `drain-int-${port}`);
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, stringify({ auth: access.auth, audit: access.audit, server: { host: '127.0.0.1', port }, backends: [{ type: 'environment' }] }));
    const proc = spawnManaged(process.execPath, [join(REPO_ROOT, 'src/main.ts'), 'serve', '--config', configPath], { cwd: dir, logFile: join(dir, 'gateway.log') });
    try {
      await waitReady('gateway', proc, async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) })).ok, 20_000, 50);
      const started = Date.now();
      proc.child.kill('SIGINT');
      const exit = await proc.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, tailFile(join(dir, 'gateway.log')));
      assert.ok(Date.now() - started < 2500, `exited after ${Date.now() - started} ms (the default drain is 5 s)`);
    } finally {
      await proc.stop();
    }
  });
});
