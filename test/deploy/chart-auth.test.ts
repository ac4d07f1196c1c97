// The chart's default access control, run for real: the config.yaml `helm template`
// renders with the default values, started as `secrets-gateway serve` with only the
// in-cluster addresses moved to loopback. The API server's key set is served over TLS
// by a throw-away "cluster CA" (openssl), trusted only through NODE_EXTRA_CA_CERTS as
// the chart sets it from the kube-root-ca.crt ConfigMap; the tokens are shaped like
// the kubelet's projected service-account tokens (RS256, kid, audience secrets-gateway).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSigner } from 'fast-jwt';
import { parse, stringify } from 'yaml';
import { keepLog, registerSecrets } from '../helpers/gateway.ts';
import { freePort } from '../helpers/servers/common.ts';
import { ok, render, root, tempDir } from './tools.ts';

const dir = tempDir('chart-auth-');
const VALUE = `warehouse-${randomBytes(6).toString('hex')}`;
registerSecrets([VALUE]);

/** A cluster CA and a serving certificate for 127.0.0.1 signed by it, as files. */
function makeClusterCa(): { ca: string; key: string; cert: string } {
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ok('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '1', '-subj', '/CN=test-cluster-ca']);
  ok('openssl', ['req', ...ec, '-keyout', file('apiserver.key'), '-out', file('apiserver.csr'), '-subj', '/CN=kube-apiserver']);
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ok('openssl', ['x509', '-req', '-in', file('apiserver.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('apiserver.crt'), '-days', '1', '-extfile', file('san.ext')]);
  return { ca: file('ca.crt'), key: file('apiserver.key'), cert: file('apiserver.crt') };
}

/** The kid Kubernetes gives a service-account signing key: base64url(SHA-256(DER public key)). */
function kubernetesKid(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url');
}

function startGateway(configFile: string, env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [path.join(root, 'src/main.ts'), 'serve', '--config', configFile], {
    cwd: dir,
    env: { PATH: process.env.PATH, AIRFLOW_VAR_WAREHOUSE_BUCKET: VALUE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return { child, output: () => ({ stdout, stderr }) };
}

async function waitHealthy(base: string, output: () => { stderr: string }): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(`${base}/healthz`).catch(() => null);
    if (res?.ok) return;
    assert.ok(Date.now() < deadline, `the gateway did not start:\n${output().stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe("the chart's default access control, run: Kubernetes service-account tokens checked against the cluster's JWKS over the cluster CA", () => {
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = kubernetesKid(signing.publicKey);
  let apiServer: Server;
  let ca: string;
  let config: Record<string, any>;
  let local: Record<string, any>;
  let configFile: string;
  let deploymentEnv: Array<{ name: string; value?: string }>;
  let mounts: Array<{ name: string; mountPath: string }>;

  before(async () => {
    const { manifests } = render([]);
    config = parse(manifests.find((m) => m.kind === 'ConfigMap')!.data!['config.yaml']!);
    const pod = (manifests.find((m) => m.kind === 'Deployment') as any).spec.template.spec;
    deploymentEnv = pod.containers[0].env;
    mounts = pod.containers[0].volumeMounts;

    const tls = makeClusterCa();
    ca = tls.ca;
    const jwks = JSON.stringify({ keys: [{ ...signing.publicKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid }] });
    apiServer = createServer({ key: readFileSync(tls.key), cert: readFileSync(tls.cert) }, (req, res) => {
      if (req.url === '/openid/v1/jwks') res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(jwks);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => apiServer.listen(0, '127.0.0.1', resolve));

    // The rendered config, with the in-cluster addresses and the Secret's file moved to this machine.
    const jwksUrl = new URL(config.auth.jwks[0].url);
    local = structuredClone(config);
    local.server.host = '127.0.0.1';
    local.server.port = await freePort();
    local.server.drain_seconds = 0; // no load balancer to wait for: a stop need not drain
    local.auth.jwks[0].url = `https://127.0.0.1:${(apiServer.address() as { port: number }).port}${jwksUrl.pathname}`;
    const auditKey = path.join(dir, 'audit-key');
    writeFileSync(auditKey, randomBytes(48).toString('base64'), { mode: 0o600 });
    local.audit.key_file = auditKey;
    configFile = path.join(dir, 'config.yaml');
    writeFileSync(configFile, stringify(local));
  });
  after(() => new Promise<void>((resolve) => (apiServer ? apiServer.close(() => resolve()) : resolve())));

  it('the Deployment gives the gateway what its config names: the cluster CA in NODE_EXTRA_CA_CERTS, the audit key from the Secret', () => {
    const extraCa = deploymentEnv.find((e) => e.name === 'NODE_EXTRA_CA_CERTS')?.value;
    assert.equal(extraCa, '/var/run/secrets-gateway/kube-ca/ca.crt');
    assert.ok(mounts.some((m) => m.name === 'kube-ca' && extraCa.startsWith(`${m.mountPath}/`)));
    assert.ok(mounts.some((m) => m.name === 'audit-key' && config.audit.key_file.startsWith(`${m.mountPath}/`)));
    assert.equal(config.auth.audience, 'secrets-gateway');
    assert.equal(new URL(config.auth.jwks[0].url).host, 'kubernetes.default.svc');
  });

  const token = (sub: string, aud: string[] = ['secrets-gateway']) =>
    createSigner({ key: signing.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, algorithm: 'RS256', kid, expiresIn: 600_000 })({
      iss: config.auth.issuer,
      sub,
      aud,
      'kubernetes.io': { namespace: sub.split(':')[2], serviceaccount: { name: sub.split(':')[3], uid: '6f1f8a43-0000-4000-8000-000000000001' } },
    });

  it("serves the Airflow worker's token the policy grants, refuses other service accounts and tokens for the API server, and audits on stdout", async () => {
    const { child, output } = startGateway(configFile, { NODE_EXTRA_CA_CERTS: ca });
    const base = `http://127.0.0.1:${local.server.port}`;
    try {
      await waitHealthy(base, output);
      const get = (jwt: string) => fetch(`${base}/v1/variables/warehouse_bucket`, { headers: { authorization: `Bearer ${jwt}` } });
      const worker = await get(token('system:serviceaccount:airflow:airflow-worker'));
      assert.equal(worker.status, 200, await worker.clone().text());
      assert.equal(((await worker.json()) as { value: string }).value, VALUE);
      const other = await get(token('system:serviceaccount:default:default'));
      assert.equal(other.status, 403);
      const forApiServer = await get(token('system:serviceaccount:airflow:airflow-worker', ['https://kubernetes.default.svc.cluster.local']));
      assert.equal(forApiServer.status, 401);
      assert.equal(((await forApiServer.json()) as { reason: string }).reason, 'wrong_audience');
    } finally {
      await stop(child);
      const { stdout, stderr } = output();
      keepLog('chart-default-auth', `${stdout}\n${stderr}`);
      const audit = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(audit.some((e) => e.subject === 'system:serviceaccount:airflow:airflow-worker' && e.decision === 'allow' && e.outcome === 'found'), stdout);
      assert.ok(audit.some((e) => e.subject === 'system:serviceaccount:default:default' && e.decision === 'deny'), stdout);
    }
  });

  it('without the cluster CA the key set cannot be fetched and every token is refused (the CA is what makes it work)', async () => {
    const { child, output } = startGateway(configFile, {});
    const base = `http://127.0.0.1:${local.server.port}`;
    try {
      await waitHealthy(base, output);
      const res = await fetch(`${base}/v1/variables/warehouse_bucket`, { headers: { authorization: `Bearer ${token('system:serviceaccount:airflow:airflow-worker')}` } });
      assert.notEqual(res.status, 200);
      assert.match(await res.text(), /jwks_unavailable|auth_unavailable/);
    } finally {
      await stop(child);
      keepLog('chart-default-auth-no-ca', `${output().stdout}\n${output().stderr}`);
    }
  });
});
