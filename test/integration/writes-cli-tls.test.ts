// `secrets-gateway connections|variables set|delete` against a TLS gateway that requires a client
// certificate (issue 18 point 4): --ca-bundle verifies the gateway, --client-cert/--client-key present
// the client's, certificates minted in the test; the overlay target in a real Redis.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ServerTls } from '../../src/http/tls.ts';
import { createLogger } from '../../src/logging.ts';
import { registerSecrets, startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';
import { runCli } from '../helpers/cli.ts';
import { startRedis, type RedisServer } from '../helpers/servers/redis.ts';
import { mintCa, mintCert, type Pem } from '../helpers/tls.ts';

const PASSWORD = `clitls-${randomBytes(8).toString('hex')}`;
const KEY = randomBytes(32).toString('base64');
registerSecrets([PASSWORD, KEY]);

const cli = runCli;

describe('the write CLI over TLS and mutual TLS', () => {
  let redis: RedisServer;
  let gw: TestGateway;
  let serverTls: ServerTls;
  let env: NodeJS.ProcessEnv;
  let ca: Pem;
  let worker: Pem;
  let foreign: Pem;

  before(async () => {
    const dir = tempDir('sg-cli-tls-');
    ca = mintCa(dir, 'ca');
    const otherCa = mintCa(dir, 'other-ca');
    const server = mintCert(dir, ca, 'server', { cn: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'], usage: 'serverAuth' });
    worker = mintCert(dir, ca, 'worker', { cn: 'deployer', sans: [], usage: 'clientAuth' });
    foreign = mintCert(dir, otherCa, 'foreign', { cn: 'deployer', sans: [], usage: 'clientAuth' });
    registerSecrets([server.key, worker.key, foreign.key]);
    redis = await startRedis();
    const tls = { cert_file: 'server.crt', key_file: 'server.key', ca_file: 'ca.crt', client_auth: 'require' as const, min_version: 'TLSv1.2' as const, certificate_only: false };
    serverTls = new ServerTls({ tls, baseDir: dir, logger: createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) }), pollIntervalMs: 200 });
    gw = await startTestGateway({
      dir,
      env: { SECRETS_GATEWAY_OVERLAY_KEY: KEY },
      config: {
        server: { tls },
        backends: [{ type: 'overlay', redis_url: redis.url, writable: true, max_ttl_seconds: 3600 }],
        writes: { target: 'overlay' },
      },
      https: serverTls.apiServerOptions,
    });
    serverTls.serve(gw.app.server as unknown as TlsServer, gw.metrics.registry);
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    env = {
      SECRETS_GATEWAY_URL: `https://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`,
      SECRETS_GATEWAY_TOKEN: gw.token(['connections:write:*', 'variables:write:*']),
    };
  });
  after(async () => {
    serverTls?.close();
    await gw?.close();
    await redis?.dispose();
  });

  const get = async (kind: string, id: string) => gw.inject({ method: 'GET', url: `/v1/${kind}/${id}` });
  const mtls = () => ['--ca-bundle', ca.certFile, '--client-cert', worker.certFile, '--client-key', worker.keyFile];

  it('sets and deletes a connection and a variable with --ca-bundle, --client-cert and --client-key', async () => {
    const set = await cli(['connections', 'set', 'tls_conn', '--conn-uri', `postgres://etl:${PASSWORD}@db.internal:5432/dwh`, '--ttl', '600', ...mtls()], env);
    assert.equal(set.status, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).backend, 'overlay');
    assert.ok(!set.stdout.includes(PASSWORD) && !set.stderr.includes(PASSWORD));
    assert.equal((await get('connections', 'tls_conn')).json().password, PASSWORD);
    assert.equal((await cli(['variables', 'set', 'tls_var', 'on', ...mtls()], env)).status, 0);
    assert.equal((await get('variables', 'tls_var')).json().value, 'on');

    const deleted = await cli(['connections', 'delete', 'tls_conn', ...mtls()], env);
    assert.equal(deleted.status, 0, deleted.stderr);
    assert.equal((await get('connections', 'tls_conn')).statusCode, 404);
    // The same from the environment variables.
    const fromEnv = await cli(['variables', 'delete', 'tls_var'], {
      ...env,
      SECRETS_GATEWAY_CA_BUNDLE: ca.certFile,
      SECRETS_GATEWAY_CLIENT_CERT: worker.certFile,
      SECRETS_GATEWAY_CLIENT_KEY: worker.keyFile,
    });
    assert.equal(fromEnv.status, 0, fromEnv.stderr);
    assert.equal((await get('variables', 'tls_var')).statusCode, 404);
    // A certificate and its key in one PEM file: --client-cert alone.
    const combined = path.join(path.dirname(worker.certFile), 'worker-combined.pem');
    writeFileSync(combined, worker.cert + worker.key);
    const oneFile = await cli(['variables', 'set', 'tls_var', 'one-file', '--ca-bundle', ca.certFile, '--client-cert', combined], env);
    assert.equal(oneFile.status, 0, oneFile.stderr);
    assert.equal((await get('variables', 'tls_var')).json().value, 'one-file');
    assert.equal((await cli(['variables', 'delete', 'tls_var', '--ca-bundle', ca.certFile, '--client-cert', combined], env)).status, 0);
  });

  it('fails with exit 1 and the TLS error code without the CA bundle, without a client certificate, or with another CA\'s', async () => {
    const noCa = await cli(['variables', 'set', 'tls_var', 'x', '--client-cert', worker.certFile, '--client-key', worker.keyFile], env);
    assert.equal(noCa.status, 1);
    assert.match(noCa.stderr, /cannot reach the gateway at https:\/\/127\.0\.0\.1:\d+ \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    const noCert = await cli(['variables', 'set', 'tls_var', 'x', '--ca-bundle', ca.certFile], env);
    assert.equal(noCert.status, 1);
    assert.match(noCert.stderr, /cannot reach the gateway/);
    const wrongCert = await cli(['variables', 'set', 'tls_var', 'x', '--ca-bundle', ca.certFile, '--client-cert', foreign.certFile, '--client-key', foreign.keyFile], env);
    assert.equal(wrongCert.status, 1);
    assert.match(wrongCert.stderr, /cannot reach the gateway/);
    assert.equal((await get('variables', 'tls_var')).statusCode, 404, 'nothing was written');
  });

  it('refuses inconsistent TLS flags with exit 2', async () => {
    const keyOnly = await cli(['variables', 'set', 'k', 'v', '--client-key', worker.keyFile], env);
    assert.equal(keyOnly.status, 2);
    assert.match(keyOnly.stderr, /--client-key needs --client-cert/);
    const plain = await cli(['variables', 'set', 'k', 'v', '--ca-bundle', ca.certFile], { ...env, SECRETS_GATEWAY_URL: 'http://127.0.0.1:1' });
    assert.equal(plain.status, 2);
    assert.match(plain.stderr, /need an https:\/\/ URL/);
    const missing = await cli(['variables', 'set', 'k', 'v', '--ca-bundle', '/nonexistent/ca.pem'], env);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read the --ca-bundle file \/nonexistent\/ca\.pem \(ENOENT\)/);
  });
});
