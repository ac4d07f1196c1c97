import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, EMBEDDED_DEFAULT_CONFIG } from '../../../src/config/load.ts';
import { tempDir } from '../../helpers/gateway.ts';

function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const file = path.join(tempDir(), 'config.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ configPath: file, env });
}

function expectError(yaml: string, keyPath: string, env: NodeJS.ProcessEnv = {}) {
  assert.throws(
    () => load(yaml, env),
    (err: unknown) => err instanceof ConfigError && err.path === keyPath,
    `expected an error naming ${keyPath}`,
  );
}

describe('configuration', () => {
  it('fills defaults', () => {
    const { config } = load('backends: [{ type: environment }]');
    assert.deepEqual(config.server, {
      host: '127.0.0.1',
      port: 8080,
      body_limit_bytes: 65536,
      drain_seconds: 5,
      shutdown_timeout_seconds: 10,
      request_timeout_seconds: 30,
      headers_timeout_seconds: 10,
      keep_alive_timeout_seconds: 65,
      connection_timeout_seconds: 120,
    });
    assert.equal(config.log.level, 'info');
    assert.deepEqual(config.backends, [{ type: 'environment', name: 'environment' }]);
  });

  it('names the key path of unknown keys and bad values', () => {
    expectError('server: { hots: 1 }', 'server.hots');
    expectError('server: { port: 70000 }', 'server.port');
    expectError('server: { port: "80" }', 'server.port');
    expectError('server: { request_timeout_seconds: 5, headers_timeout_seconds: 6 }', 'server.headers_timeout_seconds');
    expectError('nonsense: 1', 'nonsense');
    expectError('log: { level: loud }', 'log.level');
    expectError('backends: [{ type: environment }, { type: local_filesystem, connection_file_path: x }]', 'backends[1].connection_file_path');
    expectError('backends: [{ type: nope }]', 'backends[0].type');
    expectError('backends: [{ name: x }]', 'backends[0].type');
    expectError('backends: [{ type: environment, connections_lookup_pattern: "(" }]', 'backends[0].connections_lookup_pattern');
    expectError('backends: [{ type: environment }, { type: environment }]', 'backends[1].name');
    expectError('backends: [{ type: local_filesystem, poll_interval_seconds: 0 }]', 'backends[0].poll_interval_seconds');
    expectError('server: [', '(file)');
  });

  it('applies environment overrides for the common keys, validated like the file', () => {
    const { config } = load('backends: [{ type: environment }]', { SECRETS_GATEWAY_PORT: '0', SECRETS_GATEWAY_HOST: '::1', SECRETS_GATEWAY_LOG_LEVEL: 'warn' });
    assert.equal(config.server.port, 0);
    assert.equal(config.server.host, '::1');
    assert.equal(config.log.level, 'warn');
    expectError('{}', 'server.port', { SECRETS_GATEWAY_PORT: 'eighty' });
  });

  it('allows two backends of one type with distinct names', () => {
    const { config } = load('backends: [{ type: environment }, { type: environment, name: env2 }]');
    assert.deepEqual(config.backends.map((b) => b.name), ['environment', 'env2']);
  });

  it('resolves relative paths against the config file', () => {
    const { config } = load('backends: [{ type: local_filesystem, connections_file_path: c.yaml }]');
    assert.ok(path.isAbsolute(config.baseDir));
  });

  it('builds the chain Airflow would from AIRFLOW__SECRETS__BACKEND when no backends are configured', () => {
    const { config, warnings } = load('{}', {
      AIRFLOW__SECRETS__BACKEND: 'airflow.secrets.local_filesystem.LocalFilesystemBackend',
      AIRFLOW__SECRETS__BACKEND_KWARGS: '{"connections_file_path": "/etc/conns.json"}',
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      config.backends.map((b) => [b.type, b.connections_file_path]),
      [
        ['local_filesystem', '/etc/conns.json'],
        ['environment', undefined],
      ],
    );
  });

  it('replaces kwargs that are not a JSON object with {} and warns, as Airflow does', () => {
    for (const kwargs of ['not json', '[1]']) {
      const { config, warnings } = load('{}', { AIRFLOW__SECRETS__BACKEND: 'airflow.secrets.local_filesystem.LocalFilesystemBackend', AIRFLOW__SECRETS__BACKEND_KWARGS: kwargs });
      assert.equal(warnings.length, 1);
      assert.equal(config.backends[0]!.connections_file_path, undefined);
    }
  });

  it('rejects an Airflow backend class it cannot stand in for, and bad kwargs for a known one', () => {
    expectError('{}', 'AIRFLOW__SECRETS__BACKEND', { AIRFLOW__SECRETS__BACKEND: 'my.company.Backend' });
    expectError('{}', 'backends[0].bogus', { AIRFLOW__SECRETS__BACKEND: 'airflow.secrets.local_filesystem.LocalFilesystemBackend', AIRFLOW__SECRETS__BACKEND_KWARGS: '{"bogus": 1}' });
  });

  it('falls back to the environment backend alone when a file has no backends and Airflow has none', () => {
    assert.deepEqual(load('{}').config.backends.map((b) => b.type), ['environment']);
  });

  it('has an embedded default: the example files, then the environment', () => {
    const { config } = loadConfig({ env: {} });
    assert.equal(config.source, `embedded default (${EMBEDDED_DEFAULT_CONFIG})`);
    assert.deepEqual(config.backends.map((b) => b.type), ['local_filesystem', 'environment']);
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 8080);
  });

  it('refuses writable: true where the backend cannot write as configured (its descriptor says why)', () => {
    expectError('backends: [{ type: environment, writable: true }]', 'backends[0].writable');
    expectError('backends: [{ type: vault, url: "http://127.0.0.1:8200", token: t, kv_engine_version: 1, writable: true }]', 'backends[0].writable');
    assert.doesNotThrow(() => load('backends: [{ type: vault, url: "http://127.0.0.1:8200", token: t, writable: true }]'));
  });
});
