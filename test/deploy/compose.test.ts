// compose.yaml, checked by a real Compose implementation without an engine
// (Debian's docker-compose: `config` parses, validates and resolves the file), and
// the promises its header makes: pinned images, loopback only, configs that pass
// the gateway's own `config check`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ok, root, run } from './tools.ts';

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
  for (const [profile, gateways] of [
    ['dev', ['gateway']],
    ['staging', ['gateway-1', 'gateway-2']],
  ] as const) {
    it(`docker-compose config accepts profile ${profile}; images pinned; gateways on loopback with a valid config`, () => {
      const services = resolved(profile);
      const active = Object.entries(services).filter(([, s]) => s.profiles?.includes(profile));
      for (const [name, service] of Object.entries(services)) {
        assert.match(service.image, /:[\w.-]*\d[\w.-]*$/, `${name}: image ${service.image} is not pinned by a version tag`);
        for (const port of service.ports ?? []) assert.match(String(port), /^127\.0\.0\.1:/, `${name}: port ${port} is published beyond loopback`);
      }
      assert.deepEqual(active.map(([n]) => n).filter((n) => n.startsWith('gateway')).sort(), [...gateways]);
      for (const name of gateways) {
        const service = services[name]!;
        assert.equal(service.network_mode, 'host');
        assert.equal(service.read_only, true);
        const configFile = hostPath(service, service.environment!.SECRETS_GATEWAY_CONFIG!);
        const check = run(process.execPath, [path.join(root, 'src/main.ts'), 'config', 'check', configFile], {
          env: { PATH: process.env.PATH, SECRETS_GATEWAY_PORT: service.environment!.SECRETS_GATEWAY_PORT },
        });
        assert.equal(check.status, 0, `${name}: ${check.stderr}`);
        const config = parse(readFileSync(configFile, 'utf8')) as { server: { host: string } };
        assert.equal(config.server.host, '127.0.0.1');
      }
      if (profile === 'staging') {
        assert.deepEqual(active.map(([n]) => n).filter((n) => !n.startsWith('gateway')).sort(), ['openbao', 'postgres', 'redis']);
      }
    });
  }

  it('docker-compose config rejects an invalid file (the check can fail)', () => {
    const res = run('docker-compose', ['-f', '-', 'config', '-q'], { input: 'services:\n  x:\n    image: a:1\n    read_onyl: true\n', env: { PATH: process.env.PATH } });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /read_onyl/);
  });
});
