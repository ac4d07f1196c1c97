// The API over real TLS, with certificates minted here by openssl: a good client connects;
// plain HTTP to the TLS port fails cleanly; with client_auth require, no certificate or one from
// another CA is refused at the handshake, and logged; a certificate rotated on disk (the
// Kubernetes `..data` swap) reaches new connections within a second while an open keep-alive
// connection keeps working; a bad new certificate is refused (error log, metric) and the old one
// keeps serving; a policy that matches a certificate's URI SAN grants exactly what it says;
// `openssl s_client` sees TLS 1.0 and 1.1 refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Agent } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server as TlsServer } from 'node:tls';
import type { ServerTlsConfig } from '../../src/config/schema.ts';
import { ServerTls } from '../../src/http/tls.ts';
import { startMetricsServer } from '../../src/routes/metrics.ts';
import { registerSecrets, tempDir } from '../helpers/gateway.ts';
import { parseExposition, sum } from '../helpers/prometheus.ts';
import { httpsGet as get, mintCa, mintCert, secretVolume, startTlsTestGateway, type HttpsClient as Client, type Pem } from '../helpers/tls.ts';

const PASSWORD = 'tls-test-password-8c1f';
const CONNECTIONS = `airflow_db: postgres://user:${PASSWORD}@db.example:5432/airflow\nother_db: postgres://user:${PASSWORD}@other.example/x\n`;
const WORKER_ID = 'spiffe://example.org/ns/airflow/sa/worker';

const fingerprintOf = (pem: Pem) => new X509Certificate(pem.cert).fingerprint256;

/** A TLS gateway on the local files above. */
const startTlsGateway = (dir: string, tls: ServerTlsConfig, policies: unknown[] = []) =>
  startTlsTestGateway(dir, tls, {
    files: { 'connections.env': CONNECTIONS.replaceAll(': ', '=') },
    backends: [{ type: 'local_filesystem', connections_file_path: 'connections.env' }],
    policies,
    secrets: [PASSWORD],
  });

async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await sleep(20);
  }
  assert.fail(`not within ${ms} ms`);
}

describe('TLS, server certificate only (client_auth none), rotated through a Kubernetes secret volume', () => {
  let dir: string;
  let ca: Pem;
  let first: Pem;
  let gateway: Awaited<ReturnType<typeof startTlsGateway>>;
  let volume: ReturnType<typeof secretVolume>;

  before(async () => {
    dir = tempDir('sg-tls-');
    ca = mintCa(dir, 'ca');
    first = mintCert(dir, ca, 'server-1', { cn: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'], usage: 'serverAuth' });
    registerSecrets([first.key]);
    volume = secretVolume(path.join(dir, 'tls'), { 'tls.crt': first.cert, 'tls.key': first.key, 'ca.crt': ca.cert });
    gateway = await startTlsGateway(dir, { cert_file: 'tls/tls.crt', key_file: 'tls/tls.key', client_auth: 'none', min_version: 'TLSv1.2', certificate_only: false });
  });
  after(() => gateway?.close());

  it('a client that trusts the CA reads a connection, over TLS 1.3', async () => {
    const res = await get(gateway.port, '/v1/connections/airflow_db', { ca: ca.cert, token: gateway.gw.token() });
    assert.equal(res.status, 200);
    assert.equal(res.protocol, 'TLSv1.3');
    assert.equal(res.fingerprint, fingerprintOf(first));
    assert.equal((JSON.parse(res.body) as { password: string }).password, PASSWORD);
    // /healthz and /readyz are on the same port, so they follow the same TLS.
    assert.equal((await get(gateway.port, '/healthz', { ca: ca.cert })).status, 200);
  });

  it('a client that does not trust the CA is refused by its own check', async () => {
    await assert.rejects(get(gateway.port, '/healthz', {}), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('plain HTTP to the TLS port fails cleanly: the connection closes, nothing is served, the gateway goes on', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: gateway.port, path: '/v1/connections/airflow_db' }, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      req.setTimeout(2000, () => req.destroy(new Error('timeout')));
      req.end();
    });
    assert.equal(outcome, 'ECONNRESET');
    await within(1000, async () => gateway.logged().some((l) => l.msg === 'TLS handshake refused' && l.reason === 'plain_http'));
    assert.equal((await get(gateway.port, '/healthz', { ca: ca.cert })).status, 200);
  });

  it('a client that connects and hangs up before any handshake (a TCP probe) is logged at debug only', async () => {
    const before = gateway.logged().filter((l) => l.reason === 'closed').length;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(gateway.port, '127.0.0.1', () => socket.end());
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await within(1000, async () => gateway.logged().filter((l) => l.reason === 'closed').length > before);
    assert.equal(gateway.logged().filter((l) => l.reason === 'closed')[before]!.level, 20);
  });

  it('a rotated certificate reaches new connections within a second; an open keep-alive connection keeps working', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const token = gateway.gw.token();
    const before = await get(gateway.port, '/v1/connections/airflow_db', { ca: ca.cert, agent, token });
    assert.equal(before.status, 200);
    assert.equal(before.fingerprint, fingerprintOf(first));

    const second = mintCert(dir, ca, 'server-2', { cn: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'], usage: 'serverAuth' });
    registerSecrets([second.key]);
    volume.swap({ 'tls.crt': second.cert, 'tls.key': second.key, 'ca.crt': ca.cert });
    const took = await within(1000, async () => (await get(gateway.port, '/healthz', { ca: ca.cert })).fingerprint === fingerprintOf(second));
    assert.ok(took < 1000, `took ${took} ms`);
    t.diagnostic(`the new certificate was served ${took} ms after the ..data swap`);

    // The connection opened before the rotation: still the old certificate, still served.
    const kept = await get(gateway.port, '/v1/connections/airflow_db', { ca: ca.cert, agent, token });
    assert.equal(kept.status, 200);
    assert.equal(kept.reused, true);
    assert.equal(kept.fingerprint, fingerprintOf(first));
    agent.destroy();

    const logged = gateway.logged().find((l) => l.msg === 'TLS certificate reloaded; new connections get it');
    assert.equal(logged?.fingerprint256, fingerprintOf(second));
    const metrics = parseExposition(await gateway.gw.metrics.registry.metrics());
    assert.equal(sum(metrics, 'secrets_gateway_tls_reloads_total', { outcome: 'loaded' }), 1);
    assert.equal(sum(metrics, 'secrets_gateway_tls_certificate_not_after_seconds'), Date.parse(new X509Certificate(second.cert).validTo) / 1000);
  });

  it('a bad new certificate (a key that is not its own) is refused with an error log and a metric; the last good one keeps serving', async () => {
    const serving = gateway.serverTls.current.fingerprint256;
    const third = mintCert(dir, ca, 'server-3', { cn: 'localhost', sans: ['DNS:localhost'], usage: 'serverAuth' });
    const stray = mintCert(dir, ca, 'stray', { cn: 'stray', sans: [], usage: 'serverAuth' });
    registerSecrets([third.key, stray.key]);
    volume.swap({ 'tls.crt': third.cert, 'tls.key': stray.key, 'ca.crt': ca.cert });
    await within(1000, async () => gateway.logged().some((l) => l.level === 50 && l.msg === 'TLS files changed but cannot be used; still serving the previous certificate'));
    const refusal = gateway.logged().find((l) => l.level === 50)!;
    assert.match(String(refusal.err_message), /server\.tls\.key_file: is not the private key/);
    const metrics = parseExposition(await gateway.gw.metrics.registry.metrics());
    assert.equal(sum(metrics, 'secrets_gateway_tls_reloads_total', { outcome: 'refused' }), 1);
    const res = await get(gateway.port, '/v1/connections/airflow_db', { ca: ca.cert, token: gateway.gw.token() });
    assert.equal(res.status, 200);
    assert.equal(res.fingerprint, serving);
    // Garbage is refused the same way.
    volume.swap({ 'tls.crt': 'not a certificate\n', 'tls.key': stray.key, 'ca.crt': ca.cert });
    await within(1000, async () => gateway.logged().filter((l) => l.level === 50).length === 2);
    assert.equal((await get(gateway.port, '/healthz', { ca: ca.cert })).fingerprint, serving);
  });
});

describe('mutual TLS (client_auth require): client certificates at the handshake and as identity', () => {
  let dir: string;
  let ca: Pem;
  let worker: Pem;
  let stranger: Pem;
  let foreign: Pem;
  let gateway: Awaited<ReturnType<typeof startTlsGateway>>;

  before(async () => {
    dir = tempDir('sg-mtls-');
    ca = mintCa(dir, 'ca');
    const otherCa = mintCa(dir, 'other-ca');
    const server = mintCert(dir, ca, 'server', { cn: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'], usage: 'serverAuth' });
    worker = mintCert(dir, ca, 'worker', { cn: 'airflow-worker', sans: [`URI:${WORKER_ID}`], usage: 'clientAuth' });
    stranger = mintCert(dir, ca, 'stranger', { cn: 'stranger', sans: ['URI:spiffe://example.org/ns/other/sa/job'], usage: 'clientAuth' });
    // Another CA's certificate with the very same SPIFFE ID: trusted by nobody here.
    foreign = mintCert(dir, otherCa, 'foreign', { cn: 'airflow-worker', sans: [`URI:${WORKER_ID}`], usage: 'clientAuth' });
    registerSecrets([server.key, worker.key, stranger.key, foreign.key]);
    gateway = await startTlsGateway(
      dir,
      { cert_file: 'server.crt', key_file: 'server.key', ca_file: 'ca.crt', client_auth: 'require', min_version: 'TLSv1.2', certificate_only: true },
      [{ match: { cert_uri: WORKER_ID }, grants: ['connections:read:airflow_*'] }],
    );
  });
  after(() => gateway?.close());

  it('a client without a certificate is refused at the handshake, and the refusal is logged', async () => {
    await assert.rejects(get(gateway.port, '/healthz', { ca: ca.cert }), (err: NodeJS.ErrnoException) => /CERTIFICATE_REQUIRED|ECONNRESET/.test(String(err.code)));
    await within(1000, async () => gateway.logged().some((l) => l.msg === 'TLS handshake refused' && l.reason === 'no_client_certificate' && l.client === '127.0.0.1'));
  });

  it("a client with another CA's certificate is refused at the handshake, and the refusal is logged", async () => {
    await assert.rejects(get(gateway.port, '/healthz', { ca: ca.cert, cert: foreign }));
    await within(1000, async () => gateway.logged().some((l) => l.msg === 'TLS handshake refused' && l.reason === 'bad_client_certificate' && l.client === '127.0.0.1'));
    const metrics = parseExposition(await gateway.gw.metrics.registry.metrics());
    assert.equal(sum(metrics, 'secrets_gateway_tls_handshake_failures_total', { reason: 'bad_client_certificate' }), 1);
    assert.equal(sum(metrics, 'secrets_gateway_tls_handshake_failures_total', { reason: 'no_client_certificate' }), 1);
  });

  it('the metrics port (metrics.port) serves the same certificate and asks for no client certificate, even with require', async () => {
    const server = await startMetricsServer(gateway.gw.metrics, '127.0.0.1', 0, '/metrics', gateway.serverTls.metricsServerOptions);
    gateway.serverTls.serve(server as unknown as TlsServer, gateway.gw.metrics.registry, false);
    try {
      const res = await get((server.address() as AddressInfo).port, '/metrics', { ca: ca.cert });
      assert.equal(res.status, 200);
      assert.equal(res.fingerprint, gateway.serverTls.current.fingerprint256);
      assert.match(res.body, /^secrets_gateway_tls_handshake_failures_total\{reason="no_client_certificate"\} 1$/m);
    } finally {
      server.close();
    }
  });

  it('a policy that matches the URI SAN grants exactly what it says (certificate_only: no token)', async () => {
    const read = (id: string, client: Client = { ca: ca.cert, cert: worker }) => get(gateway.port, `/v1/connections/${id}`, client);
    assert.equal((await read('airflow_db')).status, 200);
    assert.equal((await read('other_db')).status, 403);
    assert.equal((await get(gateway.port, '/v1/variables/airflow_x', { ca: ca.cert, cert: worker })).status, 403);
    // The same CA, another SPIFFE ID: no policy matches, so nothing is granted (deny by default).
    assert.equal((await read('airflow_db', { ca: ca.cert, cert: stranger })).status, 403);
  });

  it("a token's own cert_* claims match nothing; its scopes still count, joined with the certificate's policies", async () => {
    const forged = gateway.gw.token([], { cert_uri: WORKER_ID });
    assert.equal((await get(gateway.port, '/v1/connections/airflow_db', { ca: ca.cert, cert: stranger, token: forged })).status, 403);
    const scoped = gateway.gw.token(['connections:read:other_*']);
    assert.equal((await get(gateway.port, '/v1/connections/other_db', { ca: ca.cert, cert: worker, token: scoped })).status, 200);
    assert.equal((await get(gateway.port, '/v1/connections/airflow_db', { ca: ca.cert, cert: worker, token: scoped })).status, 200);
    assert.equal((await get(gateway.port, '/v1/connections/airflow_db', { ca: ca.cert, cert: stranger, token: scoped })).status, 403);
  });

  it('the audit log names the certificate caller by its SPIFFE ID', async () => {
    await gateway.close();
    const events = gateway.gw.auditEvents().filter((e) => e.subject === WORKER_ID);
    assert.ok(events.some((e) => e.id === 'airflow_db' && e.decision === 'allow'));
    assert.ok(events.some((e) => e.id === 'other_db' && e.decision === 'deny'));
    // With a token as well, the token's subject is the caller.
    const withToken = gateway.gw.auditEvents().filter((e) => e.id === 'other_db' && e.decision === 'allow');
    assert.deepEqual([...new Set(withToken.map((e) => e.subject))], ['test-subject']);
  });
});

describe('protocol versions, as openssl s_client sees them', () => {
  let dir: string;
  let ca: Pem;
  let gateway: Awaited<ReturnType<typeof startTlsGateway>>;

  before(async () => {
    dir = tempDir('sg-tlsv-');
    ca = mintCa(dir, 'ca');
    const server = mintCert(dir, ca, 'server', { cn: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'], usage: 'serverAuth' });
    registerSecrets([server.key]);
    gateway = await startTlsGateway(dir, { cert_file: 'server.crt', key_file: 'server.key', client_auth: 'none', min_version: 'TLSv1.2', certificate_only: false });
  });
  after(() => gateway?.close());

  // @SECLEVEL=0 lets Debian's openssl offer TLS 1.0 and 1.1 at all (its default configuration
  // disables them in the client), so a refusal is the server's.
  // Run asynchronously: the gateway answering it is in this process.
  const sClient = (flag: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${gateway.port}`, '-servername', 'localhost', '-CAfile', ca.certFile, flag, '-cipher', 'DEFAULT:@SECLEVEL=0'], {
        timeout: 10_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c));
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
      child.stdin.end();
    });

  for (const [flag, version] of [['-tls1', 'TLSv1'], ['-tls1_1', 'TLSv1.1']] as const) {
    it(`${version} is refused`, async () => {
      const res = await sClient(flag);
      assert.notEqual(res.status, 0, res.stdout);
      // The server's alert: the client did offer the version (a client-side refusal would say "no protocols available").
      assert.match(res.stderr, /alert protocol version/i);
      assert.match(res.stdout, /Cipher is \(NONE\)/);
      await within(1000, async () => gateway.logged().some((l) => l.msg === 'TLS handshake refused' && l.reason === 'protocol_version'));
    });
  }
  for (const [flag, version] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']] as const) {
    it(`${version} is accepted`, async () => {
      const res = await sClient(flag);
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`Protocol\\s*:\\s*${version.replace('.', '\\.')}\\b|New, ${version.replace('.', '\\.')},`));
      assert.match(res.stdout, /Verify return code: 0 \(ok\)/);
    });
  }
});
