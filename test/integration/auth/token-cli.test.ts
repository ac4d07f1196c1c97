// `secrets-gateway token create | inspect`, as a user runs them, and the token
// they mint accepted by a gateway built from the same config.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildGateway } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { createLogger } from '../../../src/logging.ts';
import { registerSecrets, tempDir } from '../../helpers/gateway.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [path.join(root, 'bin/secrets-gateway.js'), ...args], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH, ...env } });

describe('token commands', () => {
  const dir = tempDir();
  const signing = randomBytes(48).toString('base64url');
  const value = `tok-cli-${randomBytes(6).toString('hex')}`;
  registerSecrets([signing, value]);
  writeFileSync(path.join(dir, 'signing-key'), `${signing}\n`);
  const config = path.join(dir, 'gateway.yaml');
  writeFileSync(
    config,
    [
      'auth:',
      '  audience: secrets-gateway',
      '  issuer: https://gateway.example',
      '  clock_skew_seconds: 0',
      '  keys:',
      '    - { kid: file-key, alg: HS256, secret_file: ./signing-key }',
      '    - { kid: env-key, alg: HS384, secret_env: SG_SIGNING_KEY }',
      '  policies:',
      '    - match: { team: "*" }',
      '      grants: ["connections:read:${team}_*"]',
      '      deny: ["connections:read:${team}_admin*"]',
      'audit: { file: audit.log, key_file: signing-key }',
      'backends: [{ type: environment }]',
      '',
    ].join('\n'),
  );
  const env = { SG_SIGNING_KEY: signing };

  it('create prints a token the gateway accepts, with the scopes and claims asked for', async () => {
    const res = cli(['token', 'create', '--config', config, '--kid', 'file-key', '--sub', 'etl-job', '--scope', 'variables:read:etl_*', '--ttl', '10m', '--claim', 'team=data'], env);
    assert.equal(res.status, 0, res.stderr);
    const token = res.stdout.trim();
    const { config: loaded } = loadConfig({ configPath: config, env });
    const gw = await buildGateway(loaded, { logger: createLogger({ level: 'silent' }), env: { ...env, AIRFLOW_VAR_ETL_X: value, AIRFLOW_VAR_OTHER: value } });
    const get = (url: string) => gw.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get('/v1/variables/etl_x')).json().value, value);
    assert.equal((await get('/v1/variables/other')).statusCode, 403);
    assert.equal((await get('/v1/connections/data_db')).statusCode, 404, 'the team policy grants data_* connections');
    assert.equal((await get('/v1/connections/data_admin')).statusCode, 403);
    await gw.app.close();
  });

  it('create needs --kid when there are several HS keys, and a known one', () => {
    assert.match(cli(['token', 'create', '--config', config, '--sub', 's'], env).stderr, /not exactly one/);
    assert.match(cli(['token', 'create', '--config', config, '--sub', 's', '--kid', 'nope'], env).stderr, /no HS256\/384\/512 key with kid "nope"/);
    assert.match(cli(['token', 'create', '--config', config, '--sub', 's', '--kid', 'env-key', '--ttl', 'forever'], env).stderr, /--ttl "forever"/);
  });

  it('inspect verifies, prints the claims, and what the policies grant and deny', () => {
    const token = cli(['token', 'create', '--config', config, '--kid', 'env-key', '--sub', 'etl-job', '--scope', 'config:read:*', '--claim', 'team=data'], env).stdout.trim();
    const res = cli(['token', 'inspect', '--config', config, token], env);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /verification: OK/);
    assert.match(res.stdout, /"sub": "etl-job"/);
    assert.match(res.stdout, /"aud": "secrets-gateway"/);
    assert.match(res.stdout, /grants: config:read:\* connections:read:data_\*/);
    assert.match(res.stdout, /denies: connections:read:data_admin\*/);
    const expired = cli(['token', 'create', '--config', config, '--kid', 'env-key', '--sub', 'x', '--ttl', '1s'], env).stdout.trim();
    spawnSync('sleep', ['2']);
    const late = cli(['token', 'inspect', '--config', config, expired], env);
    assert.equal(late.status, 1);
    assert.match(late.stdout, /verification: REFUSED \(expired\)/);
    assert.ok(!res.stdout.includes(signing) && !res.stderr.includes(signing));
  });

  it('a config with an inline secret, a short secret or a wrong key type does not load', () => {
    const bad = (yaml: string, files: Record<string, string> = {}) => {
      const d = tempDir();
      for (const [n, c] of Object.entries(files)) writeFileSync(path.join(d, n), c);
      writeFileSync(path.join(d, 'c.yaml'), yaml);
      return cli(['token', 'create', '--config', path.join(d, 'c.yaml'), '--sub', 's'], {});
    };
    assert.match(bad('auth:\n  keys: [{ kid: k, alg: HS256, secret: abc }]\n').stderr, /auth\.keys\[0\]\.secret: unknown key/);
    assert.match(bad('auth:\n  keys: [{ kid: k, alg: HS256, secret_file: k }]\n', { k: 'short' }).stderr, /HS256 secret must be at least 32 bytes/);
    assert.match(bad('auth:\n  keys: [{ kid: k, alg: RS256, secret_file: k }]\n', { k: 'x'.repeat(40) }).stderr, /RS256 needs exactly one of public_key_file or public_key_env/);
    assert.match(bad('auth:\n  jwks: [{ url: "http://10.0.0.1/jwks" }]\n').stderr, /must be https/);
    assert.match(bad('auth:\n  keys: [{ kid: k, alg: HS256, secret_file: k }]\n  policies: [{ match: { a: "*" }, grants: ["connections:delete:*"] }]\n', { k: 'x'.repeat(40) }).stderr, /policies\[0\]\.grants\[0\]/);
  });
});
