// Local files follow the disk: rewrites, atomic renames and the Kubernetes
// `..data` symlink swap are picked up while requests run, every response is the
// old or the new value (never an error), and a bad edit keeps the last good
// content while /readyz reports the error.
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';

const connections = (version: number) =>
  `reloaded:\n  conn_type: postgres\n  host: host-v${version}.example\n  login: user\n  password: pw-v${version}\n  port: ${5000 + version}\n` +
  Array.from({ length: 200 }, (_, i) => `filler_${i}: mysql://filler-${i}-v${version}\n`).join('');

/** Polls until `check` passes or the deadline is reached. */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(20);
  }
  assert.fail('condition not met in time');
}

describe('local files are re-read when they change', () => {
  let gw: TestGateway;
  let dir: string;
  let baseUrl: string;
  let token: string;
  // The layout kubelet uses for a mounted Secret: file -> ..data/file, ..data -> ..<timestamp> directory.
  const swapTo = (version: number) => {
    const versionDir = path.join(dir, `..v${version}`);
    mkdirSync(versionDir);
    writeFileSync(path.join(versionDir, 'connections.yaml'), connections(version));
    symlinkSync(`..v${version}`, path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  };

  before(async () => {
    dir = tempDir();
    mkdirSync(path.join(dir, '..v0'));
    writeFileSync(path.join(dir, '..v0', 'connections.yaml'), connections(0));
    symlinkSync('..v0', path.join(dir, '..data'));
    symlinkSync('..data/connections.yaml', path.join(dir, 'connections.yaml'));
    writeFileSync(path.join(dir, 'variables.yaml'), 'plain: v0\n');
    gw = await startTestGateway({
      dir,
      config: {
        backends: [{ type: 'local_filesystem', connections_file_path: 'connections.yaml', variables_file_path: 'variables.yaml', poll_interval_seconds: 0.2 }],
      },
    });
    baseUrl = await gw.app.listen({ host: '127.0.0.1', port: 0 });
    token = gw.token();
  });
  after(async () => {
    await gw.close();
    assert.deepEqual(gw.contractProblems, []);
  });

  // Over real HTTP on loopback, so readers, watcher and reloads share the event loop as in production.
  const host = async () => {
    const res = await fetch(`${baseUrl}/v1/connections/reloaded`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { host: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.host;
  };

  it('serves only old or new values while the Secret is symlink-swapped and rewritten under load', async () => {
    let version = 0;
    let stop = false;
    const seen = new Set<string>();
    let requests = 0;
    const load = async () => {
      while (!stop) {
        const before = version;
        const h = await host();
        requests++;
        const after = version;
        // The answer is some version that existed while the request ran (or just before, while a reload settles).
        const v = Number(/host-v(\d+)/.exec(h)?.[1]);
        assert.ok(v >= before - 1 && v <= after, `got v${v} while versions ${before}..${after} existed`);
        seen.add(h);
      }
    };
    const readers = Array.from({ length: 4 }, load);
    try {
    for (let i = 1; i <= 6; i++) {
      await sleep(60);
      swapTo(i);
      version = i;
      await eventually(async () => (await host()) === `host-v${i}.example`);
    }
    // Rewrites in place too (truncate and write), as an editor would.
    for (let i = 7; i <= 9; i++) {
      await sleep(60);
      writeFileSync(path.join(dir, `..v6`, 'connections.yaml'), connections(i));
      version = i;
      await eventually(async () => (await host()) === `host-v${i}.example`);
    }
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    assert.ok(requests > 100, `only ${requests} requests ran`);
    assert.ok(seen.size >= 5, `saw ${seen.size} versions`);
  });

  it('picks up an atomic rename of a plain file', async () => {
    writeFileSync(path.join(dir, 'variables.yaml.tmp'), 'plain: v1\n');
    renameSync(path.join(dir, 'variables.yaml.tmp'), path.join(dir, 'variables.yaml'));
    await eventually(async () => (await gw.inject({ method: 'GET', url: '/v1/variables/plain' })).json().value === 'v1');
  });

  it('keeps serving the last good content after a bad edit, and reports it in /readyz', async () => {
    writeFileSync(path.join(dir, 'variables.yaml'), 'plain: v2\nother: "secret-v2-unterminated\n');
    await eventually(async () => (await gw.inject({ method: 'GET', url: '/readyz' })).json().status === 'degraded');
    const ready = (await gw.inject({ method: 'GET', url: '/readyz' })).json();
    assert.equal(ready.backends[0].state, 'degraded');
    assert.ok(ready.backends[0].error.code);
    assert.doesNotMatch(JSON.stringify(ready), /secret-v2/, 'the error does not quote values');
    assert.ok(!gw.logs.join('').includes('secret-v2'), 'the log does not quote values');
    const res = await gw.inject({ method: 'GET', url: '/v1/variables/plain' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().value, 'v1');
    assert.ok(gw.logs.some((l) => l.includes('still serving its last good content')));

    writeFileSync(path.join(dir, 'variables.yaml'), 'plain: v3\n');
    await eventually(async () => (await gw.inject({ method: 'GET', url: '/v1/variables/plain' })).json().value === 'v3');
    assert.equal((await gw.inject({ method: 'GET', url: '/readyz' })).json().status, 'ready');
  });

  it('reports a file that is removed, and serves it again when it returns', async () => {
    rmSync(path.join(dir, 'variables.yaml'));
    await eventually(async () => (await gw.inject({ method: 'GET', url: '/readyz' })).json().backends[0].error?.code === 'file_not_found');
    assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/plain' })).json().value, 'v3');
    writeFileSync(path.join(dir, 'variables.yaml'), 'plain: v4\n');
    await eventually(async () => (await gw.inject({ method: 'GET', url: '/v1/variables/plain' })).json().value === 'v4');
  });

  it('is not ready when a file never loaded, and answers backend_unavailable', async () => {
    const other = await startTestGateway({ config: { backends: [{ type: 'local_filesystem', variables_file_path: 'missing.yaml' }] } });
    try {
      const ready = await other.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().backends[0].state, 'failed');
      const res = await other.inject({ method: 'GET', url: '/v1/variables/x' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json().failed_backends, [{ name: 'local_filesystem', code: 'file_not_found' }]);
    } finally {
      await other.close();
    }
  });
});
