// The audit log and the behaviour around access control: the hash chain and
// `audit verify`, fail-closed sinks, the dry run, Airflow context, fingerprints,
// per-subject rate limits, and which routes need no token.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { registerPipeline } from '../../../src/pipeline.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { TokenVerifier } from '../../../src/auth/verify.ts';
import { openAudit } from '../../../src/audit/index.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { createLogger } from '../../../src/logging.ts';
import { registerProblemHandlers } from '../../../src/http/problems.ts';
import { registerSecrets, startTestGateway, tempDir } from '../../helpers/gateway.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/secrets-gateway.js'), ...args], { encoding: 'utf8', timeout: 20_000 });

const VALUE = 'audit-test-value-7f3a9';
registerSecrets([VALUE]);

describe('audit log', () => {
  it('`audit verify` accepts an intact log (across a restart) and detects a deleted and an edited line', async () => {
    const dir = tempDir();
    const auditFile = path.join(dir, 'audit.log');
    for (let run = 0; run < 2; run++) {
      const gw = await startTestGateway({ env: { AIRFLOW_VAR_A: VALUE }, config: { backends: [{ type: 'environment' }], audit: { file: auditFile } } });
      for (let i = 0; i < 3; i++) assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/a' })).statusCode, 200);
      assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/a', headers: { authorization: 'Bearer x.y.z' } })).statusCode, 401);
      await gw.close();
    }
    const intact = readFileSync(auditFile, 'utf8');
    const lines = intact.trimEnd().split('\n');
    assert.equal(lines.length, 10, 'two starts, four events each');
    const ok = cli(['audit', 'verify', auditFile]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /OK, 10 lines, hash chain intact/);

    const deleted = path.join(dir, 'deleted.log');
    writeFileSync(deleted, `${[...lines.slice(0, 4), ...lines.slice(5)].join('\n')}\n`);
    const d = cli(['audit', 'verify', deleted]);
    assert.equal(d.status, 3, 'deleted lines: exit 3');
    assert.match(d.stderr, /TAMPERED \(lines were deleted\)/);
    assert.match(d.stderr, /line 5: does not follow line 4/);

    const edited = path.join(dir, 'edited.log');
    writeFileSync(edited, intact.replace('"decision":"deny"', '"decision":"allow"'));
    const e = cli(['audit', 'verify', edited]);
    assert.equal(e.status, 1, 'an edited line: exit 1');
    assert.match(e.stderr, /TAMPERED \(a line was edited\)/);
    assert.match(e.stderr, /content does not match its hash \(edited\)/);

    const firstGone = path.join(dir, 'first-gone.log');
    writeFileSync(firstGone, `${lines.slice(1).join('\n')}\n`);
    assert.equal(cli(['audit', 'verify', firstGone]).status, 3, 'deleting the first line is detected too');
    const unreadable = cli(['audit', 'verify', path.join(dir, 'no-such.log')]);
    assert.equal(unreadable.status, 2, 'a file that cannot be read: exit 2');
    assert.match(unreadable.stderr, /ENOENT/);
  });

  it('refuses to start when the audit log cannot be written, unless on_failure: serve', async () => {
    await assert.rejects(
      startTestGateway({ config: { backends: [{ type: 'environment' }], audit: { file: '/dev/full' } } }),
      /audit\.file: cannot write the audit log \/dev\/full: ENOSPC/,
    );
    const gw = await startTestGateway({ env: { AIRFLOW_VAR_A: VALUE }, config: { backends: [{ type: 'environment' }], audit: { file: '/dev/full', on_failure: 'serve' } } });
    assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/a' })).statusCode, 200);
    assert.match(gw.logs.join(''), /serving WITHOUT an audit trail/);
    const ready = await gw.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200, 'on_failure: serve keeps the replica in service');
    assert.equal(ready.json().status, 'degraded');
    assert.deepEqual([ready.json().audit.state, ready.json().audit.error], ['failing', 'ENOSPC']);
    await gw.close();
    assert.deepEqual(gw.contractProblems, []);
  });

  it('fails closed when the sink breaks while serving: later requests get 503 audit_unavailable', async () => {
    const dir = tempDir();
    const fifo = path.join(dir, 'audit.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    // The collector reading the audit stream (opened read-write, so opening it does not wait for a writer).
    const reader = createReadStream('', { fd: openSync(fifo, 'r+') });
    reader.on('data', () => {});
    reader.on('error', () => {});
    const gw = await startTestGateway({ env: { AIRFLOW_VAR_A: VALUE }, config: { backends: [{ type: 'environment' }], audit: { file: fifo } } });
    try {
      assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/a' })).statusCode, 200);
      reader.destroy(); // the collector dies: the next write gets EPIPE
      await sleep(100);
      let refused;
      for (let i = 0; i < 20 && !refused; i++) {
        const res = await gw.inject({ method: 'GET', url: '/v1/variables/a' });
        if (res.statusCode === 503) refused = res;
        else await sleep(50);
      }
      assert.ok(refused, 'a request is refused once the sink failed');
      assert.equal(refused.json().code, 'audit_unavailable');
      assert.ok(!refused.body.includes(VALUE));
      assert.equal(gw.audit?.sink.healthy, false);
      assert.match(gw.logs.join(''), /audit sink write failed/);
      assert.equal((await gw.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'health stays answerable');
      const ready = await gw.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503, 'a collector gone for good: not ready');
      assert.equal(ready.json().audit.state, 'failing');
    } finally {
      await gw.close();
    }
  });

  it('records Airflow context from token claims (verified) or X-Airflow-* headers (unverified), and keyed value fingerprints', async () => {
    const gw = await startTestGateway({
      env: { AIRFLOW_VAR_A: VALUE, AIRFLOW_VAR_SAME: VALUE, AIRFLOW_VAR_OTHER: `${VALUE}-2` },
      config: { backends: [{ type: 'environment' }] },
    });
    const claims = { dag_id: 'etl', task_id: 'load', run_id: 'manual__1', try_number: 2, team: 'data' };
    await gw.inject({ method: 'GET', url: '/v1/variables/a', headers: { authorization: `Bearer ${gw.token(undefined, claims)}` } });
    await gw.inject({
      method: 'GET',
      url: '/v1/variables/same',
      headers: { 'x-airflow-dag-id': 'etl', 'x-airflow-task-id': 'load', 'x-airflow-run-id': 'r', 'x-airflow-try-number': '1' },
    });
    await gw.inject({ method: 'GET', url: '/v1/variables/other' });
    await gw.close();
    const [a, same, other] = gw.auditEvents().filter((e) => e.type === 'access');
    assert.deepEqual(a!.airflow, { verified: true, dag_id: 'etl', task_id: 'load', run_id: 'manual__1', try_number: '2', team: 'data' });
    assert.deepEqual(same!.airflow, { verified: false, dag_id: 'etl', task_id: 'load', run_id: 'r', try_number: '1' });
    assert.ok(!('airflow' in other!), 'no Airflow context: nothing written');
    assert.equal(a!.fingerprint, same!.fingerprint, 'same value, same fingerprint');
    assert.notEqual(a!.fingerprint, other!.fingerprint);
    const plain = createHash('sha256').update(JSON.stringify(VALUE)).digest('base64url');
    assert.ok(!String(a!.fingerprint).includes(plain), 'keyed: not a plain hash anyone could compute');
    for (const e of [a, same, other]) {
      assert.equal(e!.backend, 'environment');
      assert.equal(e!.subject, 'test-subject');
      assert.equal(typeof e!.latency_ms, 'number');
    }
  });

  it('dry run (enforce: false) serves what it would deny and audits it as would_deny; bad tokens are still refused', async () => {
    const gw = await startTestGateway({ env: { AIRFLOW_VAR_A: VALUE }, config: { backends: [{ type: 'environment' }], auth: { enforce: false } } });
    const token = gw.token(['variables:read:b*']);
    const res = await gw.inject({ method: 'GET', url: '/v1/variables/a', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 200);
    const batch = await gw.inject({ method: 'POST', url: '/v1/lookup', payload: { variables: ['a'] }, headers: { authorization: `Bearer ${token}` } });
    assert.equal(batch.json().variables[0].status, 'found');
    assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/a', headers: { authorization: 'Bearer nope' } })).statusCode, 401);
    await gw.close();
    const decisions = gw.auditEvents().filter((e) => e.type === 'access').map((e) => [e.decision, e.reason, e.outcome]);
    assert.deepEqual(decisions, [
      ['would_deny', 'no_grant', 'found'],
      ['would_deny', 'no_grant', 'found'],
      ['deny', 'malformed_token', 'denied'],
    ]);
    assert.match(gw.logs.join(''), /DRY RUN/);
  });

  it('rate-limits per subject: 429 rate_limited with Retry-After, other subjects unaffected', async () => {
    const gw = await startTestGateway({ env: { AIRFLOW_VAR_A: VALUE }, config: { backends: [{ type: 'environment' }], auth: { rate_limit: { max: 3, window_seconds: 60 } } } });
    const noisy = gw.token(undefined, { sub: 'noisy-dag' });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await gw.inject({ method: 'GET', url: '/v1/variables/a', headers: { authorization: `Bearer ${noisy}` } })).statusCode);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const limited = await gw.inject({ method: 'GET', url: '/v1/variables/a', headers: { authorization: `Bearer ${noisy}` } });
    assert.equal(limited.json().code, 'rate_limited');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/a', headers: { authorization: `Bearer ${gw.token(undefined, { sub: 'quiet-dag' })}` } })).statusCode, 200);
    await gw.close();
    const last = gw.auditEvents().filter((e) => e.subject === 'noisy-dag').pop()!;
    assert.deepEqual([last.decision, last.outcome, last.code, last.reason], ['deny', 'denied', 'rate_limited', 'rate_limited'], 'a rate-limited request is a refusal, audited with its subject');
    assert.deepEqual(gw.contractProblems, []);
  });

  it('answers health, docs, unknown routes and 405 method guards without a token; every /v1 data route needs one', async () => {
    const gw = await startTestGateway({ config: { backends: [{ type: 'environment' }] } });
    const none = { authorization: '' };
    const raw = (method: string, url: string) => gw.app.inject({ method: method as 'GET', url });
    assert.equal((await raw('GET', '/healthz')).statusCode, 200);
    assert.equal((await raw('GET', '/readyz')).statusCode, 200);
    assert.equal((await raw('GET', '/openapi.json')).statusCode, 200);
    assert.equal((await raw('PATCH', '/v1/connections/x')).statusCode, 405, 'the method guard serves no data');
    assert.equal((await raw('GET', '/v1/nothing-here')).statusCode, 404);
    for (const [method, url] of [['GET', '/v1/connections/x'], ['GET', '/v1/variables/x'], ['GET', '/v1/config/x'], ['POST', '/v1/lookup'], ['DELETE', '/v1/connections/x'], ['DELETE', '/v1/variables/x']] as const) {
      const res = await raw(method, url);
      assert.equal(res.statusCode, 401, `${method} ${url}`);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="secrets-gateway"');
    }
    assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/x', headers: none })).statusCode, 401, 'an empty header is no token');
    await gw.close();
    assert.deepEqual(gw.contractProblems, []);
  });

  it('denies a /v1 route that declares no permission, whatever the token grants', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'key'), 'k'.repeat(32));
    writeFileSync(path.join(dir, 'c.yaml'), `auth:\n  keys: [{ kid: k, alg: HS256, secret_file: key }]\naudit:\n  file: audit.log\n  key_file: key\nbackends: [{ type: environment }]\n`);
    const { config } = loadConfig({ configPath: path.join(dir, 'c.yaml'), env: {} });
    const logger = createLogger({ level: 'silent' });
    const app = Fastify();
    registerProblemHandlers(app);
    const audit = openAudit(config.audit, dir, {}, logger);
    registerPipeline(app, { access: { auth: config.auth!, verifier: new TokenVerifier(config.auth!, dir, {}, logger), audit }, metrics: createMetrics(), logger, onAuthFailure: () => {} });
    app.get('/v1/forgot-to-declare', async () => ({ leaked: true }));
    const { createSigner } = await import('fast-jwt');
    const token = createSigner({ key: 'k'.repeat(32), algorithm: 'HS256', kid: 'k', expiresIn: 60_000 })({ sub: 's', scope: 'connections:read:* variables:read:* config:read:* backends:read' });
    const res = await app.inject({ method: 'GET', url: '/v1/forgot-to-declare', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'forbidden');
    await app.close();
    await audit.sink.close();
    const events = readFileSync(path.join(dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(events.some((e) => e.decision === 'deny' && e.reason === 'undeclared_route' && e.route === '/v1/forgot-to-declare'));
  });
});
