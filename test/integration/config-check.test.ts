// `config check` against `serve` on a corpus of bad configurations: each one that `serve` refuses,
// `config check` refuses the same way (exit 2, the same message), without a network call; and a
// good one passes both. `--connect` then logs in to each backend (a real OpenBao) and reports each one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { registerSecrets, tempDir } from '../helpers/gateway.ts';
import { startOpenBao, type OpenBaoServer } from '../helpers/servers/openbao.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = path.join(root, 'src/main.ts');
const env = { PATH: process.env.PATH, AWS_EC2_METADATA_DISABLED: 'true', METADATA_SERVER_DETECTION: 'none' };

type Config = Record<string, any>;

/** A configuration serve starts with: access control from files in `dir`, the environment backend. */
function goodConfig(dir: string): Config {
  const signingKey = randomBytes(32).toString('base64url');
  const auditKey = randomBytes(32).toString('base64url');
  registerSecrets([signingKey, auditKey]);
  writeFileSync(path.join(dir, 'signing-key'), signingKey, { mode: 0o600 });
  writeFileSync(path.join(dir, 'audit-key'), auditKey, { mode: 0o600 });
  return {
    server: { host: '127.0.0.1', port: 0 },
    auth: { keys: [{ kid: 'k', alg: 'HS256', secret_file: './signing-key' }] },
    audit: { file: './audit/audit.log', key_file: './audit-key' },
    backends: [{ type: 'environment' }],
  };
}

/** Each case: a change to the good configuration that serve refuses, and the message both must give. */
const CORPUS: Array<{ name: string; change: (c: Config, dir: string) => string | void; message: RegExp }> = [
  { name: 'an unset secret_env', change: (c) => void (c.auth.keys[0] = { kid: 'k', alg: 'HS256', secret_env: 'SG_CHECK_UNSET_KEY' }), message: /auth\.keys\[0\]: environment variable SG_CHECK_UNSET_KEY is not set/ },
  { name: 'a missing secret_file', change: (c) => void (c.auth.keys[0].secret_file = './no-such-key'), message: /auth\.keys\[0\]: cannot read .*no-such-key: ENOENT/ },
  {
    name: 'an HMAC secret shorter than its hash',
    change: (_c, dir) => writeFileSync(path.join(dir, 'signing-key'), 'short'),
    message: /auth\.keys\[0\]: a HS256 secret must be at least 32 bytes/,
  },
  { name: 'an unset audit key_env', change: (c) => void (c.audit = { file: './audit.log', key_env: 'SG_CHECK_UNSET_AUDIT' }), message: /audit\.key_env: environment variable SG_CHECK_UNSET_AUDIT is not set/ },
  { name: 'a short audit key', change: (_c, dir) => writeFileSync(path.join(dir, 'audit-key'), 'short'), message: /audit\.key_file: the audit key must be at least 32 bytes/ },
  {
    name: 'an audit log under a regular file',
    change: (c, dir) => {
      writeFileSync(path.join(dir, 'plain-file'), '');
      c.audit.file = './plain-file/audit.log';
    },
    message: /audit\.file: cannot write the audit log .*plain-file\/audit\.log: EEXIST/,
  },
  {
    name: 'a GCP prefix that breaks the naming rule',
    change: (c) => void (c.backends = [{ type: 'gcp_secret_manager', project_id: 'p', connections_prefix: 'bad prefix!' }]),
    message: /backend "gcp_secret_manager"\.connections_prefix: connections_prefix \+ sep must match/,
  },
  {
    name: 'a Vault backend with no credentials',
    change: (c) => void (c.backends = [{ type: 'vault', url: 'http://127.0.0.1:1' }]),
    message: /backend "vault"\.token: the 'token' authentication type requires 'token', 'token_path' or VAULT_TOKEN/,
  },
  {
    name: 'a Vault AppRole login without its role_id',
    change: (c) => void (c.backends = [{ type: 'vault', url: 'http://127.0.0.1:1', auth_type: 'approle' }]),
    message: /backend "vault"\.role_id: auth_type approle requires role_id/,
  },
  {
    name: 'a metastore backend without a database URL',
    change: (c) => void (c.backends = [{ type: 'airflow_metastore' }]),
    message: /backends\[airflow_metastore\]\.sql_alchemy_conn: is not set/,
  },
  { name: 'an unknown log level (the allowed values named)', change: (c) => void (c.log = { level: 'verbose' }), message: /log\.level: must be one of: "fatal", "error", "warn", "info", "debug", "trace", "silent"/ },
  { name: 'an unknown backend kind (the allowed values named)', change: (c) => void (c.backends[0].kinds = ['secrets']), message: /backends\[0\]\.kinds\[0\]: must be one of: "connections", "variables", "config"/ },
  { name: 'a headers timeout above the request timeout', change: (c) => void (c.server.headers_timeout_seconds = 40), message: /server\.headers_timeout_seconds: must be <= server\.request_timeout_seconds/ },
  { name: 'a lookup pattern RE2 cannot run', change: (c) => void (c.backends[0].connections_lookup_pattern = '(a)\\1'), message: /backends\[0\]\.connections_lookup_pattern: is not a valid regular expression: .*linear time/ },
  {
    name: 'an unwritable audit log in dev mode (no auth section)',
    change: (c, dir) => {
      writeFileSync(path.join(dir, 'plain-file'), '');
      delete c.auth;
      c.audit.file = './plain-file/audit.log';
    },
    message: /audit\.file: cannot write the audit log .*plain-file\/audit\.log: EEXIST/,
  },
  { name: 'a non-loopback address without an auth section', change: (c) => void (delete c.auth, (c.server.host = '0.0.0.0')), message: /server\.host: "0\.0\.0\.0" is not a loopback address/ },
  {
    name: 'a YAML alias bomb (the file named)',
    change: () => {
      const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
      for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
      return `${lines.join('\n')}\n`;
    },
    message: /\(file\): .*config\.yaml expands too many YAML aliases/,
  },
];

function write(dir: string, change?: (c: Config, dir: string) => string | void): string {
  const config = goodConfig(dir);
  const text = change?.(config, dir);
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, typeof text === 'string' ? text : stringify(config));
  return file;
}

const run = (args: string[], cwd: string) => spawnSync(process.execPath, [main, ...args], { cwd, env, encoding: 'utf8', timeout: 20_000 });

/** The configuration error line of a run's stderr. */
const errorLine = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('secrets-gateway: configuration error: '));

describe('config check refuses what serve refuses, the same way', () => {
  for (const { name, change, message } of CORPUS) {
    it(name, () => {
      const dir = tempDir('sg-check-');
      const file = write(dir, change);
      const served = run(['serve', '--config', file], dir);
      const checked = run(['config', 'check', file], dir);
      assert.equal(served.status, 2, `serve: ${served.stderr}`);
      assert.match(served.stderr, message);
      assert.equal(checked.status, 2, `config check: ${checked.stdout}${checked.stderr}`);
      assert.equal(errorLine(checked.stderr), errorLine(served.stderr), 'the same message');
    });
  }

  it('a configuration that serve starts with passes config check, which neither listens nor writes the audit log', async () => {
    const dir = tempDir('sg-check-');
    const file = write(dir);
    const checked = run(['config', 'check', file], dir);
    assert.equal(checked.status, 0, checked.stderr);
    assert.match(checked.stdout, /OK \(environment:environment\)/);
    assert.equal(spawnSync('ls', [path.join(dir, 'audit')]).status, 2, 'no audit directory made');
    const child = spawn(process.execPath, [main, 'serve', '--config', file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 15_000);
      child.stdout.on('data', () => {
        if (out.includes('Server listening at')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    child.kill('SIGKILL');
  });
});

describe('config check --connect', () => {
  let bao: OpenBaoServer;
  before(async () => {
    bao = await startOpenBao();
  });
  after(async () => {
    await bao?.stop();
  });

  it('logs in to each backend as startup does and reports each one: a real OpenBao login, a refused one, one unreachable; exit 1', async () => {
    await bao.enableApprole();
    await bao.writeReadPolicy('check-read', ['secret']);
    const role = await bao.createApproleRole('check-role', ['check-read']);
    const dir = tempDir('sg-check-');
    mkdirSync(path.join(dir, 'secrets'));
    writeFileSync(path.join(dir, 'secrets/connections.yaml'), 'check_conn: http://h\n');
    const file = write(dir, (c) => {
      c.backends = [
        { type: 'local_filesystem', connections_file_path: './secrets/connections.yaml' },
        { type: 'vault', name: 'vault_ok', url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: role.secretId },
        { type: 'vault', name: 'vault_refused', url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: 'not-the-secret-id-0000' },
        // Nothing listens on port 1.
        { type: 'vault', name: 'vault_down', url: 'http://127.0.0.1:1', token: 'check-token-value', timeout_seconds: 1, max_retries: 0 },
        { type: 'environment' },
      ];
    });
    registerSecrets(['check-token-value', role.secretId]);
    const res = run(['config', 'check', '--connect', file], dir);
    assert.equal(res.status, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /OK \(local_filesystem:local_filesystem -> vault_ok:vault -> vault_refused:vault -> vault_down:vault -> environment:environment\)/);
    assert.match(res.stdout, /^ {2}local_filesystem \(local_filesystem\): ready$/m);
    assert.match(res.stdout, /^ {2}vault_ok \(vault\): ready$/m);
    assert.match(res.stdout, /^ {2}vault_refused \(vault\): failed \[auth_failed\]/m);
    assert.match(res.stdout, /^ {2}vault_down \(vault\): (failed|degraded) \[\w+\]/m);
    assert.match(res.stdout, /^ {2}environment \(environment\): ready$/m);
    for (const secret of ['check-token-value', role.secretId]) assert.ok(!res.stdout.includes(secret) && !res.stderr.includes(secret));
  });

  it('exits 0 when every backend answers', () => {
    const dir = tempDir('sg-check-');
    const file = write(dir, (c) => void (c.backends = [{ type: 'vault', url: bao.url, token: bao.rootToken }, { type: 'environment' }]));
    registerSecrets([bao.rootToken]);
    const res = run(['config', 'check', '--connect', file], dir);
    assert.equal(res.status, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /^ {2}vault \(vault\): ready$/m);
  });
});
