// `serve` with server.tls, as a process: the API, /healthz and the metrics port all speak
// HTTPS with the configured certificate; with client_auth request, a caller without a client
// certificate is served (a token is its identity) and one whose certificate does not verify is
// disconnected, and logged; the metrics port asks no client certificate. `config check` refuses
// what `serve` refuses about the TLS files and settings, naming the key (exit 2).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { READ_ALL, keepLog, registerSecrets, writeTestAccessControl } from '../helpers/gateway.ts';
import { REPO_ROOT, freePort, makeTempDir, spawnManaged, waitReady, type ManagedProcess } from '../helpers/servers/common.ts';
import { httpsGet, mintCa, mintCert, type Pem } from '../helpers/tls.ts';

const VALUE = 'tls-serve-variable-value-41d7';

describe('serve with server.tls (client_auth request) and a metrics port', () => {
  let dir: string;
  let ca: Pem;
  let foreign: Pem;
  let worker: Pem;
  let port: number;
  let metricsPort: number;
  let proc: ManagedProcess;
  let token: string;

  before(async () => {
    dir = makeTempDir('tls-serve');
    ca = mintCa(dir, 'ca');
    const otherCa = mintCa(dir, 'other-ca');
    const server = mintCert(dir, ca, 'server', { cn: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'], usage: 'serverAuth' });
    worker = mintCert(dir, ca, 'worker', { cn: 'worker', sans: ['URI:spiffe://example.org/worker'], usage: 'clientAuth' });
    foreign = mintCert(dir, otherCa, 'foreign', { cn: 'worker', sans: ['URI:spiffe://example.org/worker'], usage: 'clientAuth' });
    registerSecrets([server.key, worker.key, foreign.key, VALUE]);
    port = await freePort();
    metricsPort = await freePort();
    const access = writeTestAccessControl(dir, `tls-serve-${port}`);
    token = access.token(READ_ALL);
    writeFileSync(
      join(dir, 'config.yaml'),
      stringify({
        server: { host: '127.0.0.1', port, drain_seconds: 0, tls: { cert_file: 'server.crt', key_file: 'server.key', ca_file: 'ca.crt', client_auth: 'request' } },
        metrics: { port: metricsPort },
        backends: [{ type: 'environment' }],
        auth: access.auth,
        audit: access.audit,
      }),
    );
    proc = spawnManaged(process.execPath, [join(REPO_ROOT, 'src/main.ts'), 'serve', '--config', join(dir, 'config.yaml')], {
      cwd: dir,
      logFile: join(dir, 'gateway.log'),
      env: { AIRFLOW_VAR_GREETING: VALUE },
    });
    await waitReady('gateway', proc, async () => (await httpsGet(port, '/healthz', { ca: ca.cert })).status === 200, 20_000);
  });
  after(async () => {
    await proc?.stop();
    keepLog('tls-serve', readFileSync(proc.logFile, 'utf8'));
  });

  it('serves the API and /readyz over HTTPS; a token is enough without a client certificate', async () => {
    assert.equal((await httpsGet(port, '/readyz', { ca: ca.cert })).status, 200);
    const res = await httpsGet(port, '/v1/variables/greeting', { ca: ca.cert, token });
    assert.equal(res.status, 200);
    assert.equal(res.body, JSON.stringify({ key: 'greeting', value: VALUE }));
    // A client certificate from the configured CA is welcome too.
    assert.equal((await httpsGet(port, '/v1/variables/greeting', { ca: ca.cert, cert: worker, token })).status, 200);
    // No token, and certificate_only is off: the certificate alone is nobody.
    assert.equal((await httpsGet(port, '/v1/variables/greeting', { ca: ca.cert, cert: worker })).status, 401);
  });

  it("a client certificate from another CA is disconnected, and logged", async () => {
    await assert.rejects(httpsGet(port, '/v1/variables/greeting', { ca: ca.cert, cert: foreign, token }));
    // The gateway writes its log asynchronously: look for the line for a while.
    const deadline = Date.now() + 2000;
    while (!/"reason":"bad_client_certificate".*TLS client certificate refused/.test(readFileSync(proc.logFile, 'utf8'))) {
      assert.ok(Date.now() < deadline, `no refusal logged:\n${readFileSync(proc.logFile, 'utf8')}`);
      await sleep(20);
    }
  });

  it('the metrics port serves HTTPS with the same certificate and asks no client certificate', async () => {
    const res = await httpsGet(metricsPort, '/metrics', { ca: ca.cert });
    assert.equal(res.status, 200);
    assert.equal(res.fingerprint, (await httpsGet(port, '/healthz', { ca: ca.cert })).fingerprint);
    assert.match(res.body, /^secrets_gateway_tls_certificate_not_after_seconds \d+/m);
    assert.match(res.body, /^secrets_gateway_tls_handshake_failures_total\{reason="bad_client_certificate"\} 1$/m);
  });
});

describe('config check refuses TLS settings that serve would refuse', () => {
  const check = (tls: Record<string, unknown> | undefined, policies?: unknown[]) => {
    const dir = makeTempDir('tls-check');
    const ca = mintCa(dir, 'ca');
    mintCert(dir, ca, 'server', { cn: 'localhost', sans: ['DNS:localhost'], usage: 'serverAuth' });
    mintCert(dir, ca, 'stray', { cn: 'stray', sans: [], usage: 'serverAuth' });
    registerSecrets([readFileSync(join(dir, 'server.key'), 'utf8'), readFileSync(join(dir, 'stray.key'), 'utf8')]);
    writeFileSync(join(dir, 'config.yaml'), stringify({ server: { ...(tls ? { tls } : {}) }, ...(policies ? { auth: { keys: [{ kid: 'k', alg: 'HS256', secret_env: 'K' }], policies } } : {}) }));
    return spawnSync(process.execPath, [join(REPO_ROOT, 'src/main.ts'), 'config', 'check', join(dir, 'config.yaml')], { encoding: 'utf8', cwd: dir, env: { ...process.env, K: 'k'.repeat(32) } });
  };

  it('accepts a good certificate and key', () => {
    const res = check({ cert_file: 'server.crt', key_file: 'server.key' });
    assert.equal(res.status, 0, res.stderr);
  });

  it('refuses a policy on a certificate claim where no client certificate is asked for (it could only match a token claim)', () => {
    const policies = [{ match: { cert_uri: 'spiffe://example.org/worker' }, grants: ['connections:read:*'] }];
    for (const tls of [undefined, { cert_file: 'server.crt', key_file: 'server.key' }]) {
      const res = check(tls, policies);
      assert.equal(res.status, 2, res.stdout + res.stderr);
      assert.match(res.stderr, /auth\.policies\[0\]\.match\.cert_uri: matches a client certificate claim, but server\.tls\.client_auth is none/);
    }
    const res = check({ cert_file: 'server.crt', key_file: 'server.key', ca_file: 'ca.crt', client_auth: 'request' }, policies);
    assert.equal(res.status, 0, res.stderr);
  });

  for (const [name, tls, message] of [
    ['a key that is not the certificate\'s', { cert_file: 'server.crt', key_file: 'stray.key' }, /server\.tls\.key_file: is not the private key/],
    ['a missing file', { cert_file: 'nope.crt', key_file: 'server.key' }, /server\.tls\.cert_file: .*nope\.crt: ENOENT/],
    ['a key as the certificate', { cert_file: 'server.key', key_file: 'server.key' }, /server\.tls\.cert_file: is not a PEM certificate/],
    ['client_auth require without a CA', { cert_file: 'server.crt', key_file: 'server.key', client_auth: 'require' }, /server\.tls\.ca_file: client_auth "require" needs/],
    ['certificate_only without client certificates', { cert_file: 'server.crt', key_file: 'server.key', certificate_only: true }, /server\.tls\.certificate_only: needs client_auth/],
    ['TLS 1.1 as the minimum', { cert_file: 'server.crt', key_file: 'server.key', min_version: 'TLSv1.1' }, /server\.tls\.min_version/],
  ] as const) {
    it(`refuses ${name}, naming the key (exit 2)`, () => {
      const res = check(tls);
      assert.equal(res.status, 2, res.stdout + res.stderr);
      assert.match(res.stderr, message);
      assert.doesNotMatch(res.stderr, /PRIVATE KEY/);
    });
  }
});
