// What a start loads. The configuration schemas (TypeBox) are for the generators and the tests:
// the gateway validates with the generated validators (src/generated/config-validators.ts) and
// takes the schemas' types with `import type`, which type stripping erases. Loading TypeBox
// cost ~60 ms of CPU per start; a value import of a schema module would bring it back. The network
// backends' modules (and cockatiel, their resilience policies) load only when one is configured.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { BACKENDS } from '../../src/backends/registry.ts';

const SCHEMA_MODULES = ['/src/config/schema.ts', '/src/auth/config-schema.ts', '/src/audit/config.ts', '/src/backends/options-common.ts', ...BACKENDS.map((d) => `/src/backends/${d.type.replaceAll('_', '-')}/options.ts`)];

/** Every module URL that importing src/cli.ts (the start's whole static import graph) loads, in a fresh process. */
function modulesLoadedByCli(): string[] {
  const cli = new URL('../../src/cli.ts', import.meta.url).href;
  const script = [
    "import { registerHooks } from 'node:module';",
    'const loaded = [];',
    'registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });',
    `await import(${JSON.stringify(cli)});`,
    'process.stdout.write(JSON.stringify(loaded));',
  ].join('\n');
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
}

describe('a start', () => {
  it('loads neither TypeBox nor a schema module', () => {
    const loaded = modulesLoadedByCli();
    assert.ok(loaded.some((url) => url.endsWith('/src/generated/config-validators.ts')), 'the hook saw the start modules');
    assert.deepEqual(loaded.filter((url) => url.includes('/@sinclair/typebox/') || SCHEMA_MODULES.some((m) => url.endsWith(m))), []);
  });

  it('loads no network backend module, no cockatiel and no node-vault (nor its axios) until one is configured', () => {
    const loaded = modulesLoadedByCli();
    const network = ['/src/backends/vault/backend.ts', '/src/backends/vault/client.ts', '/src/backends/aws-secrets-manager/backend.ts', '/src/backends/gcp-secret-manager/backend.ts', '/src/backends/resilience.ts'];
    const packages = ['/cockatiel/', '/node-vault/', '/axios/'];
    assert.deepEqual(loaded.filter((url) => packages.some((p) => url.includes(p)) || network.some((m) => url.endsWith(m))), []);
  });

  it('every backend folder has its descriptor, options schema and backend, and the registry lists each once', async () => {
    assert.equal(new Set(BACKENDS.map((d) => d.type)).size, BACKENDS.length);
    for (const d of BACKENDS) {
      const schema = (await d.optionsSchema()) as unknown as { properties: { type: { const: string } } };
      assert.equal(schema.properties.type.const, d.type, `${d.type}: its options schema names its type`);
      assert.equal(typeof (await d.load()), 'function', `${d.type}: its factory`);
    }
  });
});
