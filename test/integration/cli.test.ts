// The installed command, as a user runs it: `npx secrets-gateway …` on the compiled output.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { keepLog, registerSecrets, tempDir } from '../helpers/gateway.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = path.join(root, 'bin/secrets-gateway.js');
const node = process.execPath; // the pinned Node the tests run on

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(node, [bin, ...args], { cwd: root, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 20_000 });
}

registerSecrets(['not-a-real-password', 'example_user:not-a-real']);

describe('secrets-gateway command', () => {
  it('config check accepts a good file', () => {
    const file = path.join(tempDir(), 'ok.yaml');
    writeFileSync(file, 'backends:\n  - type: environment\n');
    const res = run(['config', 'check', file]);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /OK \(environment:environment\)/);
  });

  it('config check exits non-zero and names the key path of a bad file', () => {
    const file = path.join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'server:\n  port: 99999\nbackends:\n  - type: local_filesystem\n    connections_file: x\n');
    const res = run(['config', 'check', file]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /configuration error: server\.port: must be <= 65535/);
  });

  it('config check refuses a non-loopback address without an auth section, as serve would', () => {
    const file = path.join(tempDir(), 'open.yaml');
    writeFileSync(file, 'server:\n  host: 0.0.0.0\nbackends:\n  - type: environment\n');
    const res = run(['config', 'check', file]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /server\.host: "0\.0\.0\.0" is not a loopback address; without an auth section/);
  });

  it('serve refuses a bad config with a non-zero exit naming the key path', () => {
    const file = path.join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'backends:\n  - type: local_filesystem\n    connections_file: x\n');
    const res = run(['serve', '--config', file]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /backends\[0\]\.connections_file: unknown key/);
  });

  it('serve refuses a non-loopback address while there is no auth section', () => {
    const res = run(['serve'], { SECRETS_GATEWAY_HOST: '0.0.0.0' });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /server\.host: "0\.0\.0\.0" is not a loopback address; without an auth section/);
  });

  it('serve starts in dev mode on the embedded default (0600 key, printed read token), serves the example connection with it, and exits 0 on SIGTERM after in-flight requests', async () => {
    const cwd = tempDir(); // dev mode writes ./.secrets-gateway/ in the working directory
    const child = spawn(node, [bin, 'serve'], { cwd, env: { PATH: process.env.PATH, SECRETS_GATEWAY_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listen line: ${out}`)), 15_000);
      child.stdout.on('data', () => {
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    const token = /export SG_TOKEN=(\S+)/.exec(err)?.[1];
    assert.ok(token, `a dev token is printed: ${err}`);
    assert.equal(statSync(path.join(cwd, '.secrets-gateway/dev-signing-key')).mode & 0o777, 0o600);
    assert.equal((await fetch(`${url}/v1/connections/example_postgres`)).status, 401, 'no token, no secret');
    const auth = { authorization: `Bearer ${token}` };
    const res = await fetch(`${url}/v1/connections/example_postgres`, { headers: auth });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { conn_type: string; host: string };
    assert.equal(body.conn_type, 'postgres');
    assert.equal(body.host, 'localhost');
    // What an operator tries first works with the dev token (dev mode is loopback only).
    assert.equal((await fetch(`${url}/v1/backends`, { headers: auth })).status, 200);
    assert.equal((await fetch(`${url}/v1/cache/invalidate`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"all": true}' })).status, 200);
    assert.notEqual((await fetch(`${url}/v1/connections/example_postgres/test`, { method: 'POST', headers: auth })).status, 403);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // A request that is in flight when SIGTERM arrives: its body is still being sent.
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${url}/v1/lookup`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'content-length': '33' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('{"connections": ["exam');
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end('ple_http"]}'), 300);
      }, 100);
    });
    const answered = await inFlight;
    assert.equal(answered.status, 200);
    assert.equal(JSON.parse(answered.body).connections[0].status, 'found');
    assert.equal(await exit, 0);
    assert.match(out, /"msg":"stopped"/);
    assert.ok(!out.includes('not-a-real-password'), 'no secret value in the log');
    const audit = readFileSync(path.join(cwd, '.secrets-gateway/audit.log'), 'utf8');
    keepLog('cli-serve', out + err);
    keepLog('cli-serve-audit', audit);
    const events = audit.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(events.some((e) => e.id === 'example_postgres' && e.decision === 'allow' && e.outcome === 'found'), 'the read is audited');
    assert.ok(!audit.includes('not-a-real-password'), 'no secret value in the audit log');
  });
});
