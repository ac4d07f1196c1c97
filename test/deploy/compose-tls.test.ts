// The compose staging profile's TLS: deploy/compose/make-tls.py (run here with Airflow's Python,
// there in the apache/airflow image) makes a throw-away CA and the gateways' certificates once, the
// CA key apart from what the gateways mount; a `serve` with the staging server.tls section and those
// files answers the staging health check (the command compose.yaml gives the gateways), a token
// read, and the client certificate made for mutual TLS, and refuses another CA's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { READ_ALL, keepLog, registerSecrets, writeTestAccessControl } from '../helpers/gateway.ts';
import { REPO_ROOT, freePort, spawnManaged, waitReady, type ManagedProcess } from '../helpers/servers/common.ts';
import { httpsGet, mintCa, mintCert, type Pem } from '../helpers/tls.ts';
import { makeStagingTls, ok, root, tempDir } from './tools.ts';

const pem = (dir: string, name: string): Pem => ({
  certFile: path.join(dir, `${name}.crt`),
  keyFile: path.join(dir, `${name}.key`),
  cert: readFileSync(path.join(dir, `${name}.crt`), 'utf8'),
  key: readFileSync(path.join(dir, `${name}.key`), 'utf8'),
});

describe('compose staging: the throw-away CA (deploy/compose/make-tls.py)', () => {
  it('makes the CA and the certificates once, 0440, and keeps them; the CA key is not among what the gateways mount', () => {
    const dir = tempDir('staging-tls-');
    mkdirSync(path.join(dir, 'ca'));
    assert.match(makeStagingTls(dir), /ca: created\nserver: created\nclient: created/);
    const files = ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key'];
    assert.deepEqual(readdirSync(dir).filter((f) => f !== 'ca').sort(), [...files].sort());
    assert.deepEqual(readdirSync(path.join(dir, 'ca')).sort(), ['ca.crt', 'ca.key']);
    const first = Object.fromEntries(files.map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
    registerSecrets([first['server.key']!, first['client.key']!, readFileSync(path.join(dir, 'ca', 'ca.key'), 'utf8')]);
    for (const f of files) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o440, f);
    assert.match(makeStagingTls(dir), /ca: kept\nserver: kept\nclient: kept/);
    for (const f of files) assert.equal(readFileSync(path.join(dir, f), 'utf8'), first[f]);
    // openssl verifies the chain, and the names the gateways are reached by.
    for (const host of ['gateway-1', 'gateway-2', 'localhost']) ok('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-verify_hostname', host, path.join(dir, 'server.crt')]);
    ok('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-verify_ip', '127.0.0.1', path.join(dir, 'server.crt')]);
    ok('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslclient', path.join(dir, 'client.crt')]);
    // The compose file gives the gateways the certificates' volume, never the CA key's.
    const services = parse(ok('docker-compose', ['--profile', 'staging', 'config'], { env: { PATH: process.env.PATH } })) as { services: Record<string, { volumes?: Array<string | { source: string; target: string }> }> };
    for (const name of ['gateway-1', 'gateway-2']) {
      const volumes = (services.services[name]!.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
      assert.ok(volumes.some((v) => v.startsWith('staging-tls:/run/staging-tls')), `${name}: ${volumes.join(', ')}`);
      assert.ok(!volumes.some((v) => v.startsWith('staging-tls-ca:')), `${name} mounts the CA key`);
    }
  });
});

describe('compose staging: a gateway with the staging server.tls and make-tls.py files', () => {
  let dir: string;
  let port: number;
  let proc: ManagedProcess;
  let token: string;
  let healthcheck: string[];

  before(async () => {
    dir = tempDir('staging-tls-serve-');
    const tlsDir = path.join(dir, 'tls');
    mkdirSync(path.join(tlsDir, 'ca'), { recursive: true });
    makeStagingTls(tlsDir);
    registerSecrets([readFileSync(path.join(tlsDir, 'server.key'), 'utf8'), readFileSync(path.join(tlsDir, 'client.key'), 'utf8')]);
    port = await freePort();
    const staging = parse(readFileSync(path.join(root, 'deploy/compose/staging.yaml'), 'utf8')) as { server: { tls: Record<string, string> } };
    const tls = JSON.parse(JSON.stringify(staging.server.tls).replaceAll('/run/staging-tls/', `${tlsDir}/`)) as Record<string, string>;
    const access = writeTestAccessControl(dir, `staging-tls-${port}`);
    token = access.token(READ_ALL);
    writeFileSync(path.join(dir, 'config.yaml'), stringify({ server: { host: '127.0.0.1', port, drain_seconds: 0, tls }, backends: [{ type: 'environment' }], auth: access.auth, audit: access.audit }));
    proc = spawnManaged(process.execPath, [path.join(REPO_ROOT, 'src/main.ts'), 'serve', '--config', path.join(dir, 'config.yaml')], {
      cwd: dir,
      logFile: path.join(dir, 'gateway.log'),
      env: { AIRFLOW_VAR_STAGE: 'staging-variable-value-77e2' },
    });
    const ca = readFileSync(path.join(tlsDir, 'ca.crt'), 'utf8');
    await waitReady('gateway', proc, async () => (await httpsGet(port, '/healthz', { ca })).status === 200, 20_000);
    // The health check compose.yaml gives the staging gateways, pointed at this gateway's port and files.
    const services = parse(ok('docker-compose', ['--profile', 'staging', 'config'], { env: { PATH: process.env.PATH } })) as { services: Record<string, { healthcheck: { test: string[] } }> };
    healthcheck = services.services['gateway-1']!.healthcheck.test.map((a) => a.replaceAll('/run/staging-tls/', `${tlsDir}/`).replace('port:8080', `port:${port}`));
  });
  after(async () => {
    await proc?.stop();
    keepLog('compose-staging-tls', readFileSync(proc.logFile, 'utf8'));
  });

  const run = (argv: string[]) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1), { stdio: 'ignore' });
      child.on('close', resolve);
    });

  it("compose's health check for the staging gateways passes over HTTPS, trusting the staging CA", async () => {
    assert.equal(healthcheck[0], 'CMD');
    assert.equal(await run(healthcheck.slice(1)), 0);
    // The check can fail: the same command against a port with nothing on it.
    const idle = await freePort();
    assert.equal(await run(healthcheck.slice(1).map((a) => a.replace(`port:${port}`, `port:${idle}`))), 1);
  });

  it('a token reads over HTTPS; the client certificate make-tls.py made is accepted; another CA is refused', async () => {
    const tlsDir = path.join(dir, 'tls');
    const ca = readFileSync(path.join(tlsDir, 'ca.crt'), 'utf8');
    const res = await httpsGet(port, '/v1/variables/stage', { ca, token });
    assert.equal(res.status, 200);
    assert.equal((await httpsGet(port, '/v1/variables/stage', { ca, token, cert: pem(tlsDir, 'client') })).status, 200);
    const other = tempDir('staging-other-ca-');
    const stranger = mintCert(other, mintCa(other, 'other'), 'stranger', { cn: 'airflow-worker', sans: ['URI:spiffe://staging.local/airflow-worker'], usage: 'clientAuth' });
    registerSecrets([stranger.key]);
    await assert.rejects(httpsGet(port, '/v1/variables/stage', { ca, token, cert: stranger }));
  });
});
