// compose.yaml, checked by a real Compose implementation without an engine
// (Debian's docker-compose: `config` parses, validates and resolves the file), and
// the promises its header makes: pinned images, published on loopback only, configs
// that pass the gateway's own `config check` (the address rule included), every file
// a gateway config names mounted into its container, and the staging key maker.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { checkServeConfig } from '../../src/serve.ts';
import { configFiles, ok, root, run, tempDir, withStagingTls } from './tools.ts';

type Service = {
  image: string;
  profiles?: string[];
  network_mode?: string;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  read_only?: boolean;
};

function resolved(profile: string): Record<string, Service> {
  const text = ok('docker-compose', ['--profile', profile, 'config'], { env: { PATH: process.env.PATH } });
  return (parse(text) as { services: Record<string, Service> }).services;
}

/** A host path for a container path, through the service's bind mounts. */
function hostPath(service: Service, containerPath: string): string {
  for (const volume of service.volumes ?? []) {
    const [host, target] = volume.split(':') as [string, string];
    if (containerPath.startsWith(`${target}/`)) return path.join(host, containerPath.slice(target.length));
  }
  assert.fail(`${containerPath} is not under any bind mount`);
}

describe('compose.yaml', () => {
  for (const [profile, gateways, others] of [
    ['dev', ['gateway'], []],
    ['staging', ['gateway-1', 'gateway-2'], ['airflow-db-migrate', 'openbao', 'postgres', 'redis', 'staging-keys', 'staging-tls']],
  ] as const) {
    it(`docker-compose config accepts profile ${profile}; images pinned; published on loopback only; gateway configs valid, their files mounted`, () => {
      const services = resolved(profile);
      const active = Object.entries(services).filter(([, s]) => s.profiles?.includes(profile));
      for (const [name, service] of Object.entries(services)) {
        assert.match(service.image, /:[\w.-]*\d[\w.-]*$/, `${name}: image ${service.image} is not pinned by a version tag`);
        for (const port of service.ports ?? []) assert.match(String(port), /^127\.0\.0\.1:/, `${name}: port ${port} is published beyond loopback`);
      }
      const names = active.map(([n]) => n);
      assert.deepEqual(names.filter((n) => n.startsWith('gateway')).sort(), [...gateways]);
      assert.deepEqual(names.filter((n) => !n.startsWith('gateway')).sort(), [...others]);
      for (const name of gateways) {
        const service = services[name]!;
        assert.equal(service.read_only, true);
        const containerConfig = service.environment!.SECRETS_GATEWAY_CONFIG!;
        const configFile = hostPath(service, containerConfig);
        // What `secrets-gateway config check` does (src/cli.ts), with the service's environment.
        // (The staging TLS files come from make-tls.py here, as from the staging-tls volume there.)
        const { config } = loadConfig({ configPath: withStagingTls(configFile), env: service.environment });
        checkServeConfig(config);
        const raw = parse(readFileSync(configFile, 'utf8')) as { server: { host: string }; auth?: unknown };
        if (profile === 'dev') {
          // Dev mode has no access control, so it binds loopback: the host's network, or nobody could reach it.
          assert.equal(service.network_mode, 'host');
          assert.equal(raw.server.host, '127.0.0.1');
        } else {
          // Access control is configured, so the replicas bind the compose network and are published on loopback.
          assert.equal(service.network_mode, undefined);
          assert.equal(raw.server.host, '0.0.0.0');
          assert.ok(raw.auth, `${name}: a non-loopback gateway without auth`);
          assert.equal(service.ports?.length, 1);
        }
        const targets = (service.volumes ?? []).map((v) => v.split(':')[1]!);
        const unmounted = configFiles(raw, path.posix.dirname(containerConfig)).filter(([, file]) => !targets.some((t) => file.startsWith(`${t}/`)));
        assert.deepEqual(unmounted, [], `${name}: files its config names that no volume provides`);
      }
    });
  }

  it('the staging key maker creates the signing, audit and Fernet keys once, read-only, and keeps them', () => {
    const dir = tempDir('staging-keys-');
    const script = path.join(root, 'deploy/compose/make-keys.mjs');
    assert.match(ok(process.execPath, [script, dir]), /signing-key: created/);
    const first = Object.fromEntries(['signing-key', 'audit-key', 'fernet-key'].map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
    for (const [file, text] of Object.entries(first)) {
      assert.equal(statSync(path.join(dir, file)).mode & 0o777, 0o440, file);
      assert.ok(Buffer.byteLength(text.trim()) >= 32, `${file} is shorter than 32 bytes`);
    }
    // Airflow's Fernet key: URL-safe base64 of 32 bytes, padded.
    assert.match(first['fernet-key']!.trim(), /^[A-Za-z0-9_-]{43}=$/);
    assert.equal(Buffer.from(first['fernet-key']!.trim(), 'base64url').length, 32);
    assert.match(ok(process.execPath, [script, dir]), /signing-key: kept/);
    for (const [file, text] of Object.entries(first)) assert.equal(readFileSync(path.join(dir, file), 'utf8'), text);
  });

  it('docker-compose config rejects an invalid file (the check can fail)', () => {
    const res = run('docker-compose', ['-f', '-', 'config', '-q'], { input: 'services:\n  x:\n    image: a:1\n    read_onyl: true\n', env: { PATH: process.env.PATH } });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /read_onyl/);
  });
});
