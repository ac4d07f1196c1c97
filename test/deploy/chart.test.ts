// The Helm chart, checked with the real tools: helm lint --strict, helm template over
// the default values and every example, kubeconform -strict against the Kubernetes
// schemas, the gateway's own `config check` on the config.yaml the chart renders (and
// every file that config names mounted into the container), values.schema.json in
// step with the gateway's config schema, the dashboard shipped as the repository has
// it, and the README.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderChartValuesSchema } from '../../scripts/chart-schema.ts';
import { loadConfig } from '../../src/config/load.ts';
import { checkServeConfig } from '../../src/serve.ts';
import { chartDir, configFiles, helmTemplate, KUBE_VERSIONS, kubeconform, ok, render, root, tempDir, toolPath, type Manifest } from './tools.ts';

const examples = readdirSync(path.join(chartDir, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => path.join(chartDir, 'examples', f));
const valueSets: Array<{ name: string; args: string[] }> = [
  { name: 'default values', args: [] },
  ...examples.map((file) => ({ name: path.relative(root, file), args: ['-f', file] })),
];

/** The ServiceMonitor CRD is not a built-in kind: its schema comes from the prometheus-operator models. */
async function validateServiceMonitor(manifest: Manifest): Promise<void> {
  const modulePath = path.join(root, '.tools/npm/node_modules/@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js');
  const { ServiceMonitor } = (await import(modulePath).catch(() =>
    assert.fail('prometheus-operator models missing in .tools/npm; run: bash scripts/provision-deploy-tools.sh'),
  )) as { ServiceMonitor: new (data: unknown) => { validate(): void } };
  new ServiceMonitor(manifest).validate();
}

/** What `secrets-gateway config check` does (src/cli.ts), in-process: a process per file would cost a second each. */
function configCheck(yamlText: string, label: string): void {
  const file = path.join(tempDir('chart-config-'), 'config.yaml');
  writeFileSync(file, yamlText);
  try {
    checkServeConfig(loadConfig({ configPath: file, env: {} }).config);
  } catch (err) {
    assert.fail(`${label}: the gateway rejects the rendered config.yaml: ${(err as Error).message}`);
  }
}

/** Every file the config names (and NODE_EXTRA_CA_CERTS) lies under one of the container's mounts. */
function assertFilesMounted(config: unknown, container: { env?: Array<{ name: string; value?: string }>; volumeMounts?: Array<{ mountPath: string }> }, label: string): void {
  const mounts = (container.volumeMounts ?? []).map((m) => m.mountPath.replace(/\/$/, ''));
  const extraCa = container.env?.find((e) => e.name === 'NODE_EXTRA_CA_CERTS')?.value;
  const files = [...configFiles(config, '/etc/secrets-gateway'), ...(extraCa ? [['env NODE_EXTRA_CA_CERTS', extraCa] as [string, string]] : [])];
  const unmounted = files.filter(([, file]) => !mounts.some((m) => file.startsWith(`${m}/`)));
  assert.deepEqual(unmounted, [], `${label}: files the gateway reads that no volume mount provides (mounts: ${mounts.join(', ')})`);
}

const renders = new Map<string, ReturnType<typeof render>>();
/** helm template, once per value set and Kubernetes version. */
const rendered = (args: string[], kubeVersion = KUBE_VERSIONS[0]!) => {
  const key = `${kubeVersion} ${args.join(' ')}`;
  if (!renders.has(key)) renders.set(key, render(args, kubeVersion));
  return renders.get(key)!;
};

describe('Helm chart helm/secrets-gateway', () => {
  it('values.schema.json carries the gateway config schema as it is now (node scripts/chart-schema.ts)', () => {
    const { current, wanted } = renderChartValuesSchema();
    assert.ok(current === wanted, 'helm/secrets-gateway/values.schema.json is stale: run node scripts/chart-schema.ts and commit it');
  });

  for (const { name, args } of valueSets) {
    it(`helm lint --strict: ${name}`, () => {
      ok(toolPath('helm'), ['lint', '--strict', chartDir, '--kube-version', KUBE_VERSIONS[0]!, ...args]);
    });

    for (const kubeVersion of KUBE_VERSIONS) {
      it(`helm template | kubeconform -strict, Kubernetes ${kubeVersion}: ${name}`, async () => {
        const { text, manifests } = rendered(args, kubeVersion);
        const res = kubeconform(text, kubeVersion, ['ServiceMonitor']);
        assert.equal(res.status, 0, `kubeconform:\n${res.stdout}\n${res.stderr}`);
        for (const m of manifests.filter((m) => m.kind === 'ServiceMonitor')) await validateServiceMonitor(m);
      });
    }

    it(`the rendered config.yaml passes the gateway's config check, and every file it names is mounted: ${name}`, () => {
      const { manifests } = rendered(args);
      const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.data?.['config.yaml']);
      assert.ok(configMap, 'no ConfigMap with config.yaml');
      configCheck(configMap.data!['config.yaml']!, name);
      const pod = (manifests.find((m) => m.kind === 'Deployment') as any).spec.template.spec;
      assertFilesMounted(parse(configMap.data!['config.yaml']!), pod.containers[0], name);
    });
  }

  it('a file the config names that no mount provides is caught (the mount check can fail)', () => {
    const { manifests } = render(['--set', 'config.audit.key_file=/var/run/elsewhere/audit-key', '--set', 'auditKey.enabled=false']);
    const config = parse(manifests.find((m) => m.kind === 'ConfigMap')!.data!['config.yaml']!);
    const pod = (manifests.find((m) => m.kind === 'Deployment') as any).spec.template.spec;
    assert.throws(() => assertFilesMounted(config, pod.containers[0], 'moved key'), /config\.audit\.key_file/);
  });

  it('the Deployment runs non-root on a read-only root filesystem with every capability dropped, probes and spread', () => {
    const deployment = render([]).manifests.find((m) => m.kind === 'Deployment') as unknown as {
      spec: { template: { spec: Record<string, any> } };
    };
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(pod.topologySpreadConstraints.length, 2);
    assert.deepEqual(pod.topologySpreadConstraints[0].labelSelector.matchLabels, deployment.spec.template.spec.topologySpreadConstraints[1].labelSelector.matchLabels);
  });

  it('mounts existing Secrets as read-only files, and a new config section needs no template change', () => {
    const { manifests } = render([
      '--set-json',
      'extraSecretMounts=[{"name":"signing-keys","secretName":"gw-keys","mountPath":"/etc/secrets-gateway/keys","defaultMode":288}]',
    ]);
    const pod = (manifests.find((m) => m.kind === 'Deployment') as any).spec.template.spec;
    assert.deepEqual(pod.volumes.find((v: any) => v.name === 'signing-keys'), { name: 'signing-keys', secret: { secretName: 'gw-keys', defaultMode: 288 } });
    assert.deepEqual(pod.containers[0].volumeMounts.find((v: any) => v.name === 'signing-keys'), { name: 'signing-keys', mountPath: '/etc/secrets-gateway/keys', readOnly: true });
    // config.yaml is toYaml of the whole `config` value.
    const configMap = manifests.find((m) => m.kind === 'ConfigMap')!;
    assert.deepEqual(parse(configMap.data!['config.yaml']!), parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')).config);
  });

  it('a separate metrics port (config.metrics.port) becomes a container port, a Service port and the ServiceMonitor endpoint, at config.metrics.path', () => {
    const { manifests } = render(['--set', 'config.metrics.port=9090', '--set', 'config.metrics.path=/internal/metrics', '--set', 'metrics.serviceMonitor.enabled=true']);
    const service = manifests.find((m) => m.kind === 'Service') as any;
    assert.deepEqual(service.spec.ports.map((p: any) => [p.name, p.port]), [['http', 8080], ['metrics', 9090]]);
    const pod = (manifests.find((m) => m.kind === 'Deployment') as any).spec.template.spec;
    assert.deepEqual(pod.containers[0].ports.map((p: any) => [p.name, p.containerPort]), [['http', 8080], ['metrics', 9090]]);
    const monitor = manifests.find((m) => m.kind === 'ServiceMonitor') as any;
    assert.deepEqual([monitor.spec.endpoints[0].port, monitor.spec.endpoints[0].path], ['metrics', '/internal/metrics']);
    const withoutPort = render(['--set', 'metrics.serviceMonitor.enabled=true']).manifests.find((m) => m.kind === 'ServiceMonitor') as any;
    assert.deepEqual([withoutPort.spec.endpoints[0].port, withoutPort.spec.endpoints[0].path], ['http', '/metrics']);
  });

  it('values.schema.json refuses typos in chart values and in the gateway config, at install time', () => {
    for (const [set, message] of [
      ['replicaCont=2', "additional properties 'replicaCont' not allowed"],
      ['config.server.prot=8080', "additional properties 'prot' not allowed"],
      ['config.backends[0].type=local_filesystem,config.backends[0].connections_file=x', "additional properties 'connections_file' not allowed"],
      ['config.backends[0].type=no_such_backend', '/config/backends/0/type'],
      ['config.server.port=99999', '/config/server/port'],
    ] as const) {
      const res = helmTemplate(['--set', set]);
      assert.notEqual(res.status, 0, `helm template --set ${set} was accepted`);
      assert.ok(res.stderr.includes(message), `--set ${set}: ${res.stderr}`);
    }
  });

  it('terminationGracePeriodSeconds covers the drain and the shutdown timeout, or the chart refuses to render (no preStop: the gateway drains itself)', () => {
    const pod = (render([]).manifests.find((m) => m.kind === 'Deployment') as any).spec.template.spec;
    assert.equal(pod.containers[0].lifecycle, undefined);
    assert.ok(pod.terminationGracePeriodSeconds >= 5 + 10 + 2);
    const short = helmTemplate(['--set-json', 'config.server={"drain_seconds":8,"shutdown_timeout_seconds":20}', '--set', 'terminationGracePeriodSeconds=29']);
    assert.notEqual(short.status, 0);
    assert.match(short.stderr, /terminationGracePeriodSeconds \(29\) must be at least config\.server\.drain_seconds \+ config\.server\.shutdown_timeout_seconds \+ 2 \(30\)/);
    assert.equal(helmTemplate(['--set-json', 'config.server={"drain_seconds":8,"shutdown_timeout_seconds":20}', '--set', 'terminationGracePeriodSeconds=30']).status, 0);
  });

  it('kubeconform rejects a manifest Kubernetes would reject (the check can fail)', () => {
    const { text } = render(['--set-json', 'extraVolumes=[{"name":"x","emptyDir":{},"bogus":true}]']);
    const res = kubeconform(text, KUBE_VERSIONS[0]!);
    assert.notEqual(res.status, 0);
    assert.match(res.stdout, /additional properties 'bogus' not allowed/);
  });

  it("ships the repository's dashboard (dashboards/secrets-gateway.json) as a Grafana ConfigMap, byte for byte, also in the packaged chart", () => {
    // helm/secrets-gateway/dashboards/secrets-gateway.json is a symlink to it: Helm reads no file outside
    // the chart, but lint, template and package follow the link and take the file's content.
    const original = readFileSync(path.join(root, 'dashboards/secrets-gateway.json'), 'utf8');
    const off = render([]).manifests.filter((m) => m.kind === 'ConfigMap');
    assert.deepEqual(off.map((m) => m.metadata.name), ['gw-secrets-gateway'], 'a dashboard ConfigMap while grafanaDashboard.enabled is false');
    const { text, manifests } = render(['--set', 'grafanaDashboard.enabled=true']);
    const board = manifests.find((m) => m.metadata.name === 'gw-secrets-gateway-secrets-gateway');
    assert.ok(board, 'no dashboard ConfigMap');
    assert.equal((board as any).metadata.labels.grafana_dashboard, '1');
    assert.equal(board.data!['secrets-gateway.json'], original.replace(/\n$/, ''));
    assert.equal(kubeconform(text, KUBE_VERSIONS[0]!).status, 0);

    const out = tempDir('chart-package-');
    ok(toolPath('helm'), ['package', chartDir, '--destination', out]);
    const archive = readdirSync(out).find((f) => f.endsWith('.tgz'))!;
    ok('tar', ['-xzf', path.join(out, archive), '-C', out]);
    assert.equal(readFileSync(path.join(out, 'secrets-gateway/dashboards/secrets-gateway.json'), 'utf8'), original);
  });

  it('README.md documents every chart value', () => {
    const readme = readFileSync(path.join(chartDir, 'README.md'), 'utf8');
    const schema = JSON.parse(readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8')) as { properties: Record<string, any> };
    const leaves: string[] = [];
    const walk = (props: Record<string, any>, prefix: string) => {
      for (const [key, value] of Object.entries(props)) {
        const at = prefix ? `${prefix}.${key}` : key;
        if (key !== 'config' && value.type === 'object' && value.properties) walk(value.properties, at);
        else leaves.push(at);
      }
    };
    walk(schema.properties, '');
    const missing = leaves.filter((leaf) => !readme.includes(`\`${leaf}\``));
    assert.deepEqual(missing, [], 'values without a line in helm/secrets-gateway/README.md');
  });
});

describe('sidecar mode: helm/airflow-sidecar-values.yaml for the Apache Airflow chart', () => {
  const values = parse(readFileSync(path.join(root, 'helm/airflow-sidecar-values.yaml'), 'utf8')) as any;

  it('its containers and volumes are valid Kubernetes in a worker pod (kubeconform -strict)', () => {
    const resolve = (v: unknown) => JSON.parse(JSON.stringify(v).replaceAll('{{ .Release.Name }}', 'airflow'));
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'airflow-worker-0' },
      spec: {
        containers: [
          { name: 'worker', image: 'apache/airflow:3.1.0', env: resolve(values.workers.env), volumeMounts: resolve(values.workers.extraVolumeMounts) },
          ...resolve(values.workers.extraContainers),
        ],
        volumes: resolve(values.workers.extraVolumes),
      },
    };
    for (const kubeVersion of KUBE_VERSIONS) {
      const res = kubeconform(JSON.stringify(pod), kubeVersion);
      assert.equal(res.status, 0, `kubeconform:\n${res.stdout}\n${res.stderr}`);
    }
    const token = pod.spec.volumes.find((v: any) => v.projected)?.projected.sources[0].serviceAccountToken;
    assert.equal(token.audience, 'secrets-gateway');
  });

  it('the gateway config it ships binds loopback, verifies the worker token (audience secrets-gateway) as the chart does, passes config check, and every file it names is mounted', () => {
    const data = parse(values.extraConfigMaps['{{ .Release.Name }}-secrets-gateway'].data) as Record<string, string>;
    const config = parse(data['config.yaml']!) as { server: { host: string }; auth: Record<string, unknown> };
    assert.equal(config.server.host, '127.0.0.1');
    configCheck(data['config.yaml']!, 'sidecar');
    const chartDefault = parse(rendered([]).manifests.find((m) => m.kind === 'ConfigMap')!.data!['config.yaml']!) as { auth: Record<string, unknown> };
    assert.deepEqual(config.auth, chartDefault.auth, "the sidecar's auth section differs from the chart's default");
    const gateway = values.workers.extraContainers.find((c: { name: string }) => c.name === 'secrets-gateway');
    assertFilesMounted(config, gateway, 'sidecar');
    const worker = values.workers.extraVolumes.find((v: any) => v.projected)?.projected.sources[0].serviceAccountToken;
    assert.equal(worker.audience, config.auth.audience);
  });
});
