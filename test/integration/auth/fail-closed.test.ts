// Deny by default is a property of the request pipeline (src/pipeline.ts), proved here for every
// /v1 route the gateway registers, read from its own route table: a route added later is covered
// without this file changing. Then the cache-invalidation matrix, and the token rules of the
// fail-closed issue.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { PLAIN_ACTIONS, SCOPED_ACTIONS } from '../../../src/secrets.ts';
import { createSigner } from 'fast-jwt';
import { startTestGateway, TEST_KID, type TestGateway } from '../../helpers/gateway.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const EVERYTHING = [...SCOPED_ACTIONS.map((a) => `${a}:*`), ...PLAIN_ACTIONS];
const spec = parse(readFileSync(path.join(root, 'openapi.yaml'), 'utf8')) as { components: { schemas: Record<string, Schema> } };

interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  minProperties?: number;
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
}

/** The smallest valid instance of a route's body schema (a ref to openapi.yaml's components), so that the
 * same request with every grant is accepted: the test then proves the refusal is the grant's doing. */
function sample(schema: Schema | undefined): unknown {
  if (!schema) return undefined;
  if (schema.$ref) return sample(spec.components.schemas[schema.$ref.startsWith('#/') ? schema.$ref.split('/').pop()! : schema.$ref.replace(/#$/, '')]);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.oneOf ?? schema.anyOf) return sample((schema.oneOf ?? schema.anyOf)![0]);
  switch (schema.type) {
    case 'object': {
      const props = schema.properties ?? {};
      const names = new Set(schema.required ?? []);
      if (names.size < (schema.minProperties ?? 0)) for (const n of Object.keys(props)) if (names.size < schema.minProperties!) names.add(n);
      return Object.fromEntries([...names].map((n) => [n, sample(props[n])]));
    }
    case 'array':
      return [sample(schema.items)];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    default:
      return 'x';
  }
}

describe('fail closed: every /v1 route, from the route table', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ env: { AIRFLOW_CONN_X: 'postgres://u@127.0.0.1:1/x', AIRFLOW_VAR_X: 'fail-closed-value-1' }, config: { backends: [{ type: 'environment' }] } });
  });
  after(() => gw.close());

  it('answers no 2xx to a token without grants, and audits every refusal with its subject', async () => {
    const v1 = gw.routes.filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD');
    assert.ok(v1.length >= 7, `the route table lists the /v1 routes (${v1.length})`);
    const tried: string[] = [];
    for (const route of v1) {
      const suffix = route.permission && 'suffix' in route.permission ? (route.permission.suffix ?? '') : '';
      const url = route.url.replace(/\*$/, `x${suffix}`).replace(/:[A-Za-z_]+/g, 'x');
      const payload = sample(route.body as Schema | undefined);
      const request = (scopes: string[], sub: string) =>
        gw.inject({ method: route.method as 'GET', url, ...(payload === undefined ? {} : { payload: payload as object }), headers: { authorization: `Bearer ${gw.token(scopes, { sub })}` } });
      const granted = await request(EVERYTHING, 'holds-every-grant');
      assert.ok(![400, 401, 403, 404, 405].includes(granted.statusCode) || (granted.statusCode === 404 && granted.json().code === 'not_found'), `${route.method} ${url} with every grant is served (${granted.statusCode} ${granted.body.slice(0, 120)}): the test request is a real one`);
      const refused = await request([], 'holds-no-grant');
      assert.equal(refused.statusCode, 403, `${route.method} ${url} without a grant: ${refused.body.slice(0, 200)}`);
      assert.equal(refused.json().code, 'forbidden');
      tried.push(`${route.method} ${route.url}`);
    }
    await gw.close();
    const events = gw.auditEvents().filter((e) => e.type === 'access' && e.subject === 'holds-no-grant');
    assert.equal(events.length, tried.length, `one refusal event per route tried: ${tried.join(', ')}`);
    for (const e of events) assert.equal(e.decision, 'deny');
  });
});

describe('cache invalidation is authorized per item and audited', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      env: { AIRFLOW_VAR_TEAM_A_DB: 'inv-value-a-123', AIRFLOW_VAR_TEAM_B_DB: 'inv-value-b-123', AIRFLOW_VAR_SECRET_X: 'inv-value-s-123' },
      config: {
        backends: [{ type: 'environment' }],
        auth: { policies: [{ match: { sub: 'ops-*' }, grants: ['cache:invalidate:*'], deny: ['cache:invalidate:secret_*'] }] },
      },
    });
  });
  after(() => gw.close());

  const targets = {
    'id team_a_db': { kind: 'variable', id: 'team_a_db' },
    'id team_b_db': { kind: 'variable', id: 'team_b_db' },
    'glob team_a_*': { glob: 'team_a_*' },
    'glob team_a_x*': { glob: 'team_a_x*' },
    'glob team_*': { glob: 'team_*' },
    'glob *': { glob: '*' },
    all: { all: true },
  } as const;
  const matrix: Record<string, { scopes: string[]; sub?: string; allowed: Array<keyof typeof targets> }> = {
    'no scope': { scopes: [], allowed: [] },
    'read only': { scopes: ['connections:read:*', 'variables:read:*', 'config:read:*'], allowed: [] },
    'cache:invalidate:team_a_*': { scopes: ['cache:invalidate:team_a_*'], allowed: ['id team_a_db', 'glob team_a_*', 'glob team_a_x*'] },
    'cache:invalidate:*': { scopes: ['cache:invalidate:*'], allowed: Object.keys(targets) as Array<keyof typeof targets> },
    'policy: * but deny secret_*': { scopes: [], sub: 'ops-1', allowed: ['id team_a_db', 'id team_b_db', 'glob team_a_*', 'glob team_a_x*', 'glob team_*'] },
  };

  it('answers 200 or 403 exactly as the grants and denies say, and never drops an entry it refuses', async () => {
    for (const [name, { scopes, sub, allowed }] of Object.entries(matrix)) {
      for (const [target, body] of Object.entries(targets)) {
        assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/team_a_db' })).statusCode, 200); // cached
        const res = await gw.inject({ method: 'POST', url: '/v1/cache/invalidate', payload: body, headers: { authorization: `Bearer ${gw.token(scopes, { sub: sub ?? `tok-${name}` })}` } });
        const expected = allowed.includes(target as keyof typeof targets) ? 200 : 403;
        assert.equal(res.statusCode, expected, `${name} → ${target}: ${res.body}`);
        if (expected === 403) {
          assert.equal(res.json().code, 'forbidden');
          const again = await gw.inject({ method: 'GET', url: '/v1/variables/team_a_db' });
          assert.equal(again.headers['x-cache'], 'hit', `${name} → ${target}: a refused invalidation drops nothing`);
        }
      }
    }
    const denied = await gw.inject({ method: 'POST', url: '/v1/cache/invalidate', payload: { kind: 'variable', id: 'SECRET_X' }, headers: { authorization: `Bearer ${gw.token([], { sub: 'ops-2' })}` } });
    assert.equal(denied.statusCode, 403, 'a deny matches case-insensitively');
    assert.equal(denied.json().reason, 'denied_by_policy');
  });

  it('puts every invalidation, allowed or refused, in the audit log with its subject, scope, decision, count and fan-out; audit verify passes', async () => {
    await gw.close();
    const events = gw.auditEvents().filter((e) => e.action === 'cache:invalidate');
    const expected = Object.values(matrix).reduce((n) => n + Object.keys(targets).length, 0) + 1;
    assert.equal(events.length, expected);
    for (const e of events) {
      assert.ok(typeof e.subject === 'string' && e.subject.length > 0);
      assert.ok(e.id !== null || typeof e.glob === 'string', 'the scope asked is named');
      if (e.decision === 'allow') {
        assert.equal(typeof e.invalidated, 'number');
        assert.equal(e.fanout, 'not_configured');
      } else {
        assert.equal(e.decision, 'deny');
        assert.ok(['no_grant', 'denied_by_policy'].includes(e.reason as string));
      }
    }
    assert.ok(events.some((e) => e.glob === '*' && e.decision === 'allow' && (e.invalidated as number) >= 1), 'all is audited as the glob *');
    const verify = spawnSync(process.execPath, [path.join(root, 'bin/secrets-gateway.js'), 'audit', 'verify', gw.auditFile], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
  });
});

describe('tokens and refusals', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ env: { AIRFLOW_VAR_K: 'tok-value-123456' }, config: { backends: [{ type: 'environment' }], auth: { max_token_lifetime_seconds: 3600 } } });
  });
  after(() => gw.close());
  const get = (token: string) => gw.inject({ method: 'GET', url: '/v1/variables/k', headers: { authorization: `Bearer ${token}` } });

  it('refuses an empty or blank sub (missing_claim)', async () => {
    for (const sub of ['', '   ', '\t']) {
      const res = await get(gw.token(undefined, { sub }));
      assert.equal(res.statusCode, 401, JSON.stringify(sub));
      assert.equal(res.json().reason, 'missing_claim');
    }
  });

  it('refuses a token meant to live longer than auth.max_token_lifetime_seconds, with or without iat', async () => {
    assert.equal((await get(gw.token(undefined, {}, 3000))).statusCode, 200);
    const long = await get(gw.token(undefined, {}, 7200));
    assert.equal(long.statusCode, 401);
    assert.equal(long.json().reason, 'token_lifetime_too_long');
    const key = readFileSync(path.join(gw.dir, 'test-signing-key'), 'utf8');
    const sign = (claims: Record<string, unknown>) => createSigner({ key, algorithm: 'HS256', kid: TEST_KID, noTimestamp: !('iat' in claims) })({ sub: 's', scope: 'variables:read:*', ...claims });
    const now = Math.floor(Date.now() / 1000);
    // Issued long ago and near its end: its lifetime (exp - iat) is still too long.
    const old = await get(sign({ iat: now - 7000, exp: now + 100 }));
    assert.equal(old.json().reason, 'token_lifetime_too_long', `status ${old.statusCode}`);
    assert.equal((await get(sign({ exp: now + 3000 }))).statusCode, 200, 'without iat, what is left counts');
    assert.equal((await get(sign({ exp: now + 7000 }))).json().reason, 'token_lifetime_too_long');
  });

  it('says in a 403 which grant is missing, or the reason, without saying whether the secret exists', async () => {
    const token = gw.token(['variables:read:other_*']);
    const exists = await get(token);
    const missing = await gw.inject({ method: 'GET', url: '/v1/variables/nope', headers: { authorization: `Bearer ${token}` } });
    assert.equal(exists.statusCode, 403);
    assert.equal(exists.json().missing_grant, 'variables:read');
    assert.equal(exists.json().reason, 'no_grant');
    assert.match(exists.json().detail, /variables:read/);
    const strip = (b: Record<string, unknown>) => ({ ...b, request_id: null });
    assert.deepEqual(strip(missing.json()), strip(exists.json()), 'the same answer for a secret that exists and one that does not');
    const unsafe = await gw.inject({ method: 'GET', url: '/v1/variables/a%2F..%2Fk', headers: { authorization: `Bearer ${gw.token(['variables:read:*'])}` } });
    assert.equal(unsafe.json().reason, 'unsafe_id');
  });
});

describe('/readyz, unauthenticated for probes, tells states and codes only', () => {
  it('leaves the file name and the parse text to GET /v1/backends (backends:read)', async () => {
    const gw = await startTestGateway({
      files: { 'broken-connections.yaml': 'a: [\n  b: "' },
      config: { backends: [{ type: 'local_filesystem', connections_file_path: './broken-connections.yaml' }, { type: 'environment' }] },
    });
    try {
      const probe = await gw.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(probe.statusCode, 503);
      assert.deepEqual(probe.json().backends[0], { name: 'local_filesystem', type: 'local_filesystem', state: 'failed', error: { code: 'file_parse_error' } });
      for (const leak of ['broken-connections', 'Parse error', 'YAML', gw.dir]) assert.ok(!probe.body.includes(leak), `/readyz does not say ${leak}`);
      const detail = await gw.inject({ method: 'GET', url: '/v1/backends', headers: { authorization: `Bearer ${gw.token(['backends:read'])}` } });
      assert.match(detail.json().backends[0].error.message, /broken-connections\.yaml/);
    } finally {
      await gw.close();
    }
  });
});

describe('lean audit events (docs/audit-log.md)', () => {
  it('write no kind, no GET, no route the action names, and no empty field; a batch and an invalidation name their route and method', async () => {
    const gw = await startTestGateway({ env: { AIRFLOW_VAR_LEAN: 'lean-value-123456' }, config: { backends: [{ type: 'environment' }] } });
    await gw.inject({ method: 'GET', url: '/v1/variables/lean' });
    await gw.inject({ method: 'POST', url: '/v1/lookup', payload: { variables: ['lean'] } });
    await gw.inject({ method: 'POST', url: '/v1/cache/invalidate', payload: { kind: 'variable', id: 'lean' }, headers: { authorization: `Bearer ${gw.token(['cache:invalidate:*'])}` } });
    await gw.close();
    const [read, batch, invalidation] = gw.auditEvents().filter((e) => e.type === 'access');
    assert.equal(read!.action, 'variables:read');
    assert.equal(read!.id, 'lean');
    for (const field of ['kind', 'method', 'route', 'issuer', 'airflow', 'reason']) assert.ok(!(field in read!), `a plain read writes no ${field}`);
    assert.equal(batch!.route, '/v1/lookup');
    assert.equal(batch!.method, 'POST');
    assert.equal(invalidation!.route, '/v1/cache/invalidate');
    assert.ok(!('kind' in invalidation!));
  });
});
