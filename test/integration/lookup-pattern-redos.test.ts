// Issue 14, point 5: a lookup pattern with catastrophic backtracking must not freeze the process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe("connections_lookup_pattern '^(a+)+$'", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      env: { AIRFLOW_CONN_AAAA: 'http://h' },
      config: { backends: [{ type: 'environment', connections_lookup_pattern: '^(a+)+$' }] },
    });
  });
  after(async () => {
    await gw.close();
    assert.deepEqual(gw.contractProblems, []);
  });

  it('answers a 30-character id that backtracking would take seconds on at once, and /healthz with it', async () => {
    const started = performance.now();
    const [miss, health] = await Promise.all([
      gw.inject({ method: 'GET', url: `/v1/connections/${'a'.repeat(30)}!` }),
      gw.inject({ method: 'GET', url: '/healthz' }),
    ]);
    const ms = performance.now() - started;
    assert.equal(miss.statusCode, 404);
    assert.equal(miss.json().code, 'not_found');
    assert.equal(health.statusCode, 200);
    assert.ok(ms < 1000, `answered in ${Math.round(ms)} ms`);
    assert.equal((await gw.inject({ method: 'GET', url: '/v1/connections/aaaa' })).statusCode, 200, 'the pattern still lets matching ids through');
  });

  it('a pattern RE2 cannot run in linear time is a configuration error (exit 2) naming the key', () => {
    const file = path.join(tempDir(), 'backref.yaml');
    writeFileSync(file, "backends:\n  - type: environment\n    variables_lookup_pattern: '(a)\\1'\n");
    const res = spawnSync(process.execPath, [path.join(root, 'src/main.ts'), 'config', 'check', file], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(res.status, 2, res.stderr);
    assert.match(res.stderr, /configuration error: backends\[0\]\.variables_lookup_pattern: is not a valid regular expression: .*linear time \(RE2\)/);
  });
});
