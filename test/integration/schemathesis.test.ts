// The contract (openapi.yaml) against the running gateway, by schemathesis: every operation with
// generated valid and invalid requests, all checks on, with a token that is granted everything.
// It must find no failure and no server error. Exclusions, each with its reason, are listed below.
// schemathesis is pinned and installed by scripts/provision.sh into .venv/schemathesis.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SCHEMATHESIS = path.join(root, '.venv/schemathesis/bin/schemathesis');
/** Cases per operation and phase; with the coverage and stateful phases, well over 2,000 in all. */
const MAX_EXAMPLES = 200;
const MIN_CASES = 2000;

const GRANTS = ['connections:read:*', 'variables:read:*', 'config:read:*', 'connections:test:*', 'cache:invalidate:*', 'backends:read'];

// The settings, with each exclusion and its reason, are in schemathesis.toml beside this file.
const CONFIG_FILE = path.join(root, 'test/integration/schemathesis.toml');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // In a temp dir: schemathesis keeps a cache (.schemathesis/) in its working directory.
    const child = spawn(cmd, args, { env, cwd: tempDir('sg-schemathesis-'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('schemathesis against a live gateway', () => {
  let gw: TestGateway;
  let base: string;
  before(async () => {
    // The repo's example files (every value in them is fake), and the environment.
    gw = await startTestGateway({
      env: { AIRFLOW_VAR_FROM_ENV: 'env-value-77' },
      secrets: ['not-a-real-password', 'example_user:not-a-real'],
      config: {
        server: { port: 0 },
        auth: { rate_limit: false },
        connection_checks: { timeout_seconds: 0.5 },
        backends: [
          { type: 'local_filesystem', connections_file_path: path.join(root, 'secrets/connections.yaml'), variables_file_path: path.join(root, 'secrets/variables.yaml') },
          { type: 'environment' },
        ],
      },
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(gw.app.server.address() as { port: number }).port}`;
  });
  after(async () => {
    await gw.close();
    assert.deepEqual(gw.contractProblems, [], 'every response matched openapi.yaml (the gateway-side check)');
  });

  it(`all checks, at least ${MIN_CASES} cases: no failure, no server error`, { timeout: 600_000 }, async (t) => {
    assert.ok(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run bash scripts/provision.sh`);
    const token = gw.token(GRANTS, {}, 3600);
    const args = [
      '--config-file',
      CONFIG_FILE,
      'run',
      `${base}/openapi.json`,
      '--url',
      base,
      '--header',
      `Authorization: Bearer ${token}`,
      '--phases',
      'examples,coverage,fuzzing,stateful',
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      '20261204',
      '--generation-database',
      'none',
      // One worker: Python 3.11's ast module is not thread-safe, which hypothesis meets when it describes a filter.
      '--workers',
      '1',
      '--request-timeout',
      '10',
      '--no-color',
      '--output-sanitize',
      'true',

    ];
    const { code, out } = await run(SCHEMATHESIS, args, { PATH: process.env.PATH, HOME: process.env.HOME, SCHEMATHESIS_HOOKS: '' });
    const tail = out.slice(-6000);
    const cases = /Test cases:\s*(\d+) generated/.exec(out);
    assert.ok(cases, `no summary in schemathesis' output:\n${tail}`);
    assert.ok(Number(cases[1]) >= MIN_CASES, `only ${cases[1]} cases:\n${tail}`);
    t.diagnostic(`schemathesis: ${cases[1]} cases`);
    assert.equal(code, 0, tail);
    assert.doesNotMatch(out, /Server error|not_a_server_error/i, tail);
  });
});
