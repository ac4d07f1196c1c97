// The Python client (this checkout's clients/airflow) in real Airflow CLI calls, to a gateway
// serving HTTPS with certificates minted by openssl (issue 18): with its `ca_bundle` it reads over
// TLS, and without it the system CAs refuse the gateway's certificate; with `client_cert` and
// `client_key` as well, the gateway (client_auth: request) sees the worker's certificate, and a
// policy on its SPIFFE ID grants the connection that the token alone is refused.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AIRFLOW_BIN, AIRFLOW_PYTHON, AIRFLOW_SKIP, airflowHomeEnv, runCommand } from '../helpers/airflow.ts';
import { registerSecrets, tempDir } from '../helpers/gateway.ts';
import { mintCa, mintCert, startTlsTestGateway, type Pem } from '../helpers/tls.ts';

/** The client as this checkout has it, ahead of whatever copy the venv installed. */
const skip = AIRFLOW_SKIP;

const WORKER_ID = 'spiffe://example.org/ns/airflow/sa/airflow-worker';
const PASSWORD = 'tls-e2e-password-3b9e';
const VALUE = 'tls-e2e-variable-value-5a0c';

/** An `airflow` command, whatever its exit status. */
const airflow = (args: string[], env: NodeJS.ProcessEnv) => runCommand(AIRFLOW_BIN, args, { env, timeoutMs: 120_000 });

describe('Airflow CLI through the Python client over TLS', { skip }, () => {
  let home: string;
  let ca: Pem;
  let worker: Pem;
  let gateway: Awaited<ReturnType<typeof startTlsTestGateway>>;
  let tokenFile: string;

  /** Airflow's environment with the gateway as its secrets backend and these extra kwargs. */
  const env = (kwargs: Record<string, unknown>): NodeJS.ProcessEnv =>
    airflowHomeEnv(AIRFLOW_PYTHON!, home, {
      AIRFLOW__SECRETS__BACKEND: 'airflow_secrets_gateway.SecretsGatewayBackend',
      AIRFLOW__SECRETS__BACKEND_KWARGS: JSON.stringify({ url: `https://localhost:${gateway.port}`, token_path: tokenFile, timeout: 10, retries: 0, ...kwargs }),
    });

  before(async () => {
    home = tempDir('sg-e2e-tls-');
    ca = mintCa(home, 'ca');
    const server = mintCert(home, ca, 'server', { cn: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'], usage: 'serverAuth' });
    worker = mintCert(home, ca, 'worker', { cn: 'airflow-worker', sans: [`URI:${WORKER_ID}`], usage: 'clientAuth' });
    registerSecrets([server.key, worker.key]);
    gateway = await startTlsTestGateway(
      home,
      { cert_file: 'server.crt', key_file: 'server.key', ca_file: 'ca.crt', client_auth: 'request', min_version: 'TLSv1.2', certificate_only: false },
      {
        files: { 'connections.env': `tls_conn=postgres://etl:${PASSWORD}@db.internal:5432/dwh\n`, 'variables.env': `tls_var=${VALUE}\n` },
        backends: [{ type: 'local_filesystem', connections_file_path: 'connections.env', variables_file_path: 'variables.env' }],
        // The token reads variables only; the worker's certificate adds its connections.
        policies: [{ match: { cert_uri: WORKER_ID }, grants: ['connections:read:tls_*'] }],
        secrets: [PASSWORD, VALUE],
      },
    );
    tokenFile = path.join(home, 'token');
    writeFileSync(tokenFile, `${gateway.gw.token(['variables:read:*'], { sub: 'system:serviceaccount:airflow:airflow-worker' })}\n`);
  });
  after(() => gateway?.close());

  it('with ca_bundle: reads a variable over TLS; without it, the certificate is refused', async () => {
    const ok = await airflow(['variables', 'get', 'tls_var'], env({ ca_bundle: ca.certFile }));
    assert.equal(ok.code, 0, ok.stderr.slice(-2000));
    assert.equal(ok.stdout.trim().split('\n').at(-1), VALUE);
    const refused = await airflow(['variables', 'get', 'tls_var'], env({}));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /CERTIFICATE_VERIFY_FAILED|certificate verify failed/);
    assert.doesNotMatch(refused.stdout + refused.stderr, new RegExp(VALUE));
  });

  it('with client_cert and client_key too: the certificate identifies the worker, and its policy grants the connection', async () => {
    const tokenOnly = await airflow(['connections', 'get', 'tls_conn', '-o', 'json'], env({ ca_bundle: ca.certFile }));
    assert.notEqual(tokenOnly.code, 0);
    assert.doesNotMatch(tokenOnly.stdout + tokenOnly.stderr, new RegExp(PASSWORD));
    const mutual = await airflow(['connections', 'get', 'tls_conn', '-o', 'json'], env({ ca_bundle: ca.certFile, client_cert: worker.certFile, client_key: worker.keyFile }));
    assert.equal(mutual.code, 0, mutual.stderr.slice(-2000));
    const [shown] = JSON.parse(mutual.stdout.trim().split('\n').at(-1)!) as Array<Record<string, unknown>>;
    assert.equal(shown!.host, 'db.internal');
    assert.equal(shown!.login, 'etl');
    // The audit log: the token's subject, allowed through the certificate's policy.
    await gateway.close();
    const allowed = gateway.gw.auditEvents().filter((e) => e.id === 'tls_conn' && e.decision === 'allow');
    assert.deepEqual([...new Set(allowed.map((e) => e.subject))], ['system:serviceaccount:airflow:airflow-worker']);
  });
});
