// The chart's TLS values: tls.enabled mounts the TLS Secret as a directory (never a subPath, so a
// renewal reaches the pod) and writes config.server.tls; the probes speak HTTPS, or check TCP when
// client certificates are required; a cert-manager Certificate when asked, checked against
// cert-manager's CRD schema (kubeconform has no offline schema for a CRD: the @kubernetes-models
// cert-manager validators, generated from cert-manager's CRDs, are installed by
// scripts/provision-deploy-tools.sh, as the ServiceMonitor's are); the ServiceMonitor scrapes over
// HTTPS; the sidecar example keeps plain HTTP on loopback.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { checkServeConfig } from '../../src/serve.ts';
import { mintCa, mintCert } from '../helpers/tls.ts';
import { registerSecrets } from '../helpers/gateway.ts';
import { chartDir, helmTemplate, KUBE_VERSIONS, kubeconform, ok, render, root, tempDir, toolPath, type Manifest } from './tools.ts';

const TLS = ['--set', 'tls.enabled=true'];
const CERT_MANAGER = [...TLS, '--set', 'tls.certManager.enabled=true', '--set', 'tls.certManager.issuerRef.name=cluster-ca', '--set', 'tls.certManager.extraDnsNames[0]=secrets.example.org'];
const FULL = [...CERT_MANAGER, '--set', 'tls.clientAuth=request', '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'config.metrics.port=9090'];
const MOUNT = '/var/run/secrets-gateway/tls';

type Pod = { containers: Array<Record<string, any>>; volumes: Array<Record<string, any>> };
const podOf = (manifests: Manifest[]): Pod => (manifests.find((m) => m.kind === 'Deployment') as any).spec.template.spec;
const configOf = (manifests: Manifest[]) => parse(manifests.find((m) => m.kind === 'ConfigMap')!.data!['config.yaml']!) as { server: { tls?: Record<string, unknown> } };

/** cert-manager's Certificate CRD schema, from the cert-manager models in .tools/npm. */
async function validateCertificate(manifest: unknown): Promise<void> {
  const modulePath = path.join(root, '.tools/npm/node_modules/@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate.js');
  const { Certificate } = (await import(modulePath).catch(() =>
    assert.fail('cert-manager models missing in .tools/npm; run: bash scripts/provision-deploy-tools.sh'),
  )) as { Certificate: new (data: unknown) => { validate(): void } };
  new Certificate(manifest).validate();
}

describe('Helm chart: TLS (tls.*)', () => {
  it('helm lint --strict, and kubeconform -strict on every Kubernetes version, with TLS, cert-manager and a ServiceMonitor', () => {
    ok(toolPath('helm'), ['lint', '--strict', chartDir, '--kube-version', KUBE_VERSIONS[0]!, ...FULL]);
    for (const kubeVersion of KUBE_VERSIONS) {
      const res = kubeconform(render(FULL, kubeVersion).text, kubeVersion, ['ServiceMonitor', 'Certificate']);
      assert.equal(res.status, 0, `kubeconform:\n${res.stdout}\n${res.stderr}`);
    }
  });

  it("the Certificate passes cert-manager's CRD schema, names the Service and writes the TLS Secret", async () => {
    const { manifests } = render(FULL);
    const certificate = manifests.find((m) => m.kind === 'Certificate') as any;
    await validateCertificate(certificate);
    assert.equal(certificate.apiVersion, 'cert-manager.io/v1');
    assert.equal(certificate.spec.secretName, 'gw-secrets-gateway-tls');
    assert.deepEqual(certificate.spec.dnsNames, [
      'gw-secrets-gateway',
      'gw-secrets-gateway.secrets-gateway',
      'gw-secrets-gateway.secrets-gateway.svc',
      'gw-secrets-gateway.secrets-gateway.svc.cluster.local',
      'secrets.example.org',
    ]);
    assert.equal(certificate.spec.privateKey.rotationPolicy, 'Always');
    assert.deepEqual(certificate.spec.issuerRef, { name: 'cluster-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    // The secret volume is that Secret, mounted whole.
    const pod = podOf(manifests);
    assert.deepEqual(pod.volumes.find((v) => v.name === 'tls'), { name: 'tls', secret: { secretName: 'gw-secrets-gateway-tls', defaultMode: 288 } });
    const mount = pod.containers[0]!.volumeMounts.find((m: any) => m.name === 'tls');
    assert.deepEqual(mount, { name: 'tls', mountPath: MOUNT, readOnly: true });
  });

  it('the check can fail: a Certificate cert-manager would refuse is refused, and certManager without an issuer fails to render', async () => {
    const certificate = render(FULL).manifests.find((m) => m.kind === 'Certificate') as any;
    await assert.rejects(validateCertificate({ ...certificate, spec: { ...certificate.spec, privateKey: { algorithm: 'DSA' } } }), /privateKey\/algorithm/);
    const res = helmTemplate([...TLS, '--set', 'tls.certManager.enabled=true']);
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /tls\.certManager\.issuerRef\.name is required/);
  });

  it("the rendered config.yaml passes the gateway's config check with real certificates where the Secret is mounted; every file it names is mounted", () => {
    const dir = tempDir('chart-tls-');
    const ca = mintCa(dir, 'ca');
    const server = mintCert(dir, ca, 'server', { cn: 'gw-secrets-gateway', sans: ['DNS:gw-secrets-gateway.secrets-gateway.svc'], usage: 'serverAuth' });
    registerSecrets([server.key]);
    const volume = path.join(dir, 'volume');
    mkdirSync(volume);
    writeFileSync(path.join(volume, 'tls.crt'), server.cert);
    writeFileSync(path.join(volume, 'tls.key'), server.key);
    writeFileSync(path.join(volume, 'ca.crt'), ca.cert);
    for (const clientAuth of ['none', 'request', 'require']) {
      const { manifests } = render([...TLS, '--set', `tls.clientAuth=${clientAuth}`, '--set', 'auditKey.enabled=false', '--set', 'config.audit.key_file=null']);
      const config = configOf(manifests);
      assert.deepEqual(config.server.tls, {
        cert_file: `${MOUNT}/tls.crt`,
        key_file: `${MOUNT}/tls.key`,
        client_auth: clientAuth,
        min_version: 'TLSv1.2',
        certificate_only: false,
        ...(clientAuth === 'none' ? {} : { ca_file: `${MOUNT}/ca.crt` }),
      });
      const mounts = podOf(manifests).containers[0]!.volumeMounts.map((m: any) => m.mountPath as string);
      for (const file of Object.entries(config.server.tls!).filter(([k]) => k.endsWith('_file')).map(([, v]) => String(v))) {
        assert.ok(mounts.some((m: string) => file.startsWith(`${m}/`)), `${file} is not under a mount`);
      }
      const text = manifests.find((m) => m.kind === 'ConfigMap')!.data!['config.yaml']!.replaceAll(`${MOUNT}/`, `${volume}/`);
      const file = path.join(dir, `config-${clientAuth}.yaml`);
      writeFileSync(file, text);
      checkServeConfig(loadConfig({ configPath: file, env: {} }).config);
    }
  });

  it('probes speak HTTPS; with client_auth require (the kubelet has no client certificate) they check TCP on the same port', () => {
    for (const [args, expect] of [
      [[], (p: any) => assert.equal(p.httpGet.scheme, undefined)],
      [[...TLS, '--set', 'tls.clientAuth=request'], (p: any) => assert.equal(p.httpGet.scheme, 'HTTPS')],
      [[...TLS, '--set', 'tls.clientAuth=require'], (p: any) => assert.deepEqual([p.httpGet, p.tcpSocket], [undefined, { port: 'http' }])],
    ] as const) {
      const container = podOf(render([...args]).manifests).containers[0]!;
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) expect(container[probe]);
      assert.equal(container.readinessProbe.periodSeconds, 5);
    }
    assert.equal(podOf(render([...TLS]).manifests).containers[0]!.readinessProbe.httpGet.path, '/readyz');
  });

  it('a client CA from a Secret of its own is mounted and named as ca_file; tls.minVersion and tls.certificateOnly reach server.tls', () => {
    const { manifests } = render([...TLS, '--set', 'tls.clientAuth=require', '--set', 'tls.clientCA.secretName=mesh-ca', '--set', 'tls.clientCA.key=root.pem', '--set', 'tls.minVersion=TLSv1.3', '--set', 'tls.certificateOnly=true']);
    const pod = podOf(manifests);
    assert.deepEqual(pod.volumes.find((v) => v.name === 'client-ca'), { name: 'client-ca', secret: { secretName: 'mesh-ca', items: [{ key: 'root.pem', path: 'ca.crt' }] } });
    assert.ok(pod.containers[0]!.volumeMounts.some((m: any) => m.name === 'client-ca' && m.mountPath === '/var/run/secrets-gateway/client-ca'));
    const tls = configOf(manifests).server.tls!;
    assert.equal(tls.ca_file, '/var/run/secrets-gateway/client-ca/ca.crt');
    assert.equal(tls.min_version, 'TLSv1.3');
    assert.equal(tls.certificate_only, true);
  });

  it('the ServiceMonitor scrapes over HTTPS, trusting ca.crt of the TLS Secret, by the Service name', () => {
    const monitor = render(FULL).manifests.find((m) => m.kind === 'ServiceMonitor') as any;
    const endpoint = monitor.spec.endpoints[0];
    assert.equal(endpoint.scheme, 'https');
    assert.deepEqual(endpoint.tlsConfig, { serverName: 'gw-secrets-gateway.secrets-gateway.svc', ca: { secret: { name: 'gw-secrets-gateway-tls', key: 'ca.crt' } } });
  });

  it('tls off (the default): no TLS volume, no Certificate, no server.tls', () => {
    const { manifests } = render(['--set', 'tls.certManager.enabled=true']);
    assert.equal(manifests.some((m) => m.kind === 'Certificate'), false);
    assert.equal(podOf(manifests).volumes.some((v) => v.name === 'tls'), false);
    assert.equal(configOf(manifests).server.tls, undefined);
  });

  it('the sidecar example keeps plain HTTP on the pod loopback', () => {
    const values = parse(readFileSync(path.join(root, 'helm/airflow-sidecar-values.yaml'), 'utf8')) as any;
    const data = parse(values.extraConfigMaps['{{ .Release.Name }}-secrets-gateway'].data) as Record<string, string>;
    const config = parse(data['config.yaml']!) as { server: { host: string; tls?: unknown } };
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.tls, undefined);
    const env = (values.workers.env as Array<{ name: string; value?: string }>).map((e) => e.value ?? '').join(' ');
    assert.doesNotMatch(env, /https:\/\/127\.0\.0\.1/);
  });
});
