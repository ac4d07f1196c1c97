// The Helm chart, checked with the real tools: helm lint --strict, helm template over
// the default values and every example, kubeconform -strict against the Kubernetes
// schemas, the gateway's own `config check` on the config.yaml the chart renders,
// values.schema.json in step with the gateway's config schema, and the README.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { renderChartValuesSchema } from '../../scripts/chart-schema.ts';
import { chartDir, helmTemplate, KUBE_VERSIONS, kubeconform, ok, root, run, tempDir, toolPath } from './tools.ts';

const examples = readdirSync(path.join(chartDir, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => path.join(chartDir, 'examples', f));
const valueSets: Array<{ name: string; args: string[] }> = [
  { name: 'default values', args: [] },
  ...examples.map((file) => ({ name: path.relative(root, file), args: ['-f', file] })),
];

type Manifest = { kind: string; metadata: { name: string }; data?: Record<string, string>; [key: string]: unknown };

function render(args: string[], kubeVersion?: string, chart?: string): { text: string; manifests: Manifest[] } {
  const res = helmTemplate(args, kubeVersion, chart);
  assert.equal(res.status, 0, `helm template ${args.join(' ')}:\n${res.stderr}`);
  const manifests = parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
  return { text: res.stdout, manifests };
}

/** The ServiceMonitor CRD is not a built-in kind: its schema comes from the prometheus-operator models. */
async function validateServiceMonitor(manifest: Manifest): Promise<void> {
  const modulePath = path.join(root, '.tools/npm/node_modules/@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js');
  const { ServiceMonitor } = (await import(modulePath).catch(() =>
    assert.fail('prometheus-operator models missing in .tools/npm; run: bash scripts/provision-deploy-tools.sh'),
  )) as { ServiceMonitor: new (data: unknown) => { validate(): void } };
  new ServiceMonitor(manifest).validate();
}

function configCheck(yamlText: string, label: string): void {
  const file = path.join(tempDir('chart-config-'), 'config.yaml');
  writeFileSync(file, yamlText);
  const res = run(process.execPath, [path.join(root, 'src/main.ts'), 'config', 'check', file]);
  assert.equal(res.status, 0, `${label}: the gateway rejects the rendered config.yaml:\n${res.stderr}`);
}

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
        const { text, manifests } = render(args, kubeVersion);
        const res = kubeconform(text, kubeVersion, ['ServiceMonitor']);
        assert.equal(res.status, 0, `kubeconform:\n${res.stdout}\n${res.stderr}`);
        for (const m of manifests.filter((m) => m.kind === 'ServiceMonitor')) await validateServiceMonitor(m);
      });
    }

    it(`the rendered config.yaml passes the gateway's config check: ${name}`, () => {
      const configMap = render(args).manifests.find((m) => m.kind === 'ConfigMap' && m.data?.['config.yaml']);
      assert.ok(configMap, 'no ConfigMap with config.yaml');
      configCheck(configMap.data!['config.yaml']!, name);
    });
  }

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

  it('a separate metrics port (config.metrics.port) becomes a container port, a Service port and the ServiceMonitor endpoint', () => {
    // The gateway has no metrics section yet: render without the schema, as the chart will once it has.
    const { manifests } = render(['--skip-schema-validation', '--set', 'config.metrics.port=9090', '--set', 'metrics.serviceMonitor.enabled=true']);
    const service = manifests.find((m) => m.kind === 'Service') as any;
    assert.deepEqual(service.spec.ports.map((p: any) => [p.name, p.port]), [['http', 8080], ['metrics', 9090]]);
    const monitor = manifests.find((m) => m.kind === 'ServiceMonitor') as any;
    assert.equal(monitor.spec.endpoints[0].port, 'metrics');
    const withoutPort = render(['--set', 'metrics.serviceMonitor.enabled=true']).manifests.find((m) => m.kind === 'ServiceMonitor') as any;
    assert.equal(withoutPort.spec.endpoints[0].port, 'http');
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

  it('kubeconform rejects a manifest Kubernetes would reject (the check can fail)', () => {
    const { text } = render(['--set-json', 'extraVolumes=[{"name":"x","emptyDir":{},"bogus":true}]']);
    const res = kubeconform(text, KUBE_VERSIONS[0]!);
    assert.notEqual(res.status, 0);
    assert.match(res.stdout, /additional properties 'bogus' not allowed/);
  });

  it('ships each dashboards/*.json in the chart as a Grafana dashboard ConfigMap, and nothing while there is none', async () => {
    // The dashboard JSON arrives with the metrics work; a copy of the chart with one proves the template.
    assert.equal(render(['--set', 'grafanaDashboard.enabled=true']).manifests.filter((m) => m.kind === 'ConfigMap').length, 1);
    const chart = path.join(tempDir('chart-'), 'secrets-gateway');
    cpSync(chartDir, chart, { recursive: true });
    mkdirSync(path.join(chart, 'dashboards'));
    const dashboard = JSON.stringify({ title: 'Secrets Gateway', panels: [] }, null, 2);
    writeFileSync(path.join(chart, 'dashboards/secrets-gateway.json'), dashboard);
    const { text, manifests } = render(['--set', 'grafanaDashboard.enabled=true'], KUBE_VERSIONS[0], chart);
    const board = manifests.find((m) => m.metadata.name === 'gw-secrets-gateway-secrets-gateway');
    assert.ok(board, 'no dashboard ConfigMap');
    assert.equal((board as any).metadata.labels.grafana_dashboard, '1');
    assert.deepEqual(JSON.parse(board.data!['secrets-gateway.json']!), JSON.parse(dashboard));
    assert.equal(kubeconform(text, KUBE_VERSIONS[0]!).status, 0);
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

  it('the gateway config it ships binds loopback and passes config check', () => {
    const data = parse(values.extraConfigMaps['{{ .Release.Name }}-secrets-gateway'].data) as Record<string, string>;
    const config = parse(data['config.yaml']!) as { server: { host: string } };
    assert.equal(config.server.host, '127.0.0.1');
    configCheck(data['config.yaml']!, 'sidecar');
  });
});
