// ONE conformance suite, run against every backend type the registry lists (src/backends/registry.ts),
// each on its real store: environment variables, local files, OpenBao (KV v1 and v2), moto, and the Secret Manager gRPC
// service, the overlay's Redis and Airflow's metadata database on PostgreSQL. Each case stores values in the backend's own format under Airflow's
// default naming (test/helpers/backend-fixtures.ts) and asks the real HTTP API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BROKEN_PASSWORD,
  CONFORMANCE_FIXTURES,
  type BackendFixture,
} from '../helpers/backend-fixtures.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { startOpenBao, type OpenBaoServer } from '../helpers/servers/openbao.ts';
import { BACKENDS } from '../../src/backends/registry.ts';

const PASSWORD = 'pa:ss/wörd-SECRET-7731';

let bao: OpenBaoServer;
// Every backend type the registry lists, each with its fixtures (a type without one fails below).
const fixtures = BACKENDS.flatMap((descriptor) => (CONFORMANCE_FIXTURES[descriptor.type] ?? []).map((fixture) => ({ ...fixture, descriptor })));

it('every backend type in the registry has a conformance fixture', () => {
  assert.deepEqual(BACKENDS.filter((d) => !CONFORMANCE_FIXTURES[d.type]?.length).map((d) => d.type), []);
});

before(async () => {
  bao = await startOpenBao();
});
after(async () => {
  await bao.dispose();
});

async function get(gw: TestGateway, url: string) {
  const res = await gw.inject({ url });
  return { status: res.statusCode, body: res.json(), source: res.headers['x-secret-source'] };
}

for (const { label, make, descriptor } of fixtures) {
  describe(`backend conformance: ${label}`, () => {
    let f: BackendFixture;
    let n = 0;
    // Ids unique per test (the stores are shared), made of characters every backend accepts.
    const id = (name: string) => `c${(n += 1)}_${name}`;
    const gateways: TestGateway[] = [];
    const gateway = async (options?: Record<string, unknown>) => {
      const gw = await f.gateway(options);
      gateways.push(gw);
      return gw;
    };

    before(async () => {
      f = await make({ bao });
    });
    after(async () => {
      for (const gw of gateways) {
        assert.deepEqual(gw.contractProblems, [], 'every response matches openapi.yaml');
        assert.ok(!gw.logs.join('').includes(PASSWORD), 'no secret value in the logs');
        await gw.close();
      }
      await f.dispose();
    });

    it("is the type its descriptor names, and offers version checks as the descriptor says", async () => {
      const gw = await gateway();
      const backend = gw.chain.links[0]!.backend;
      assert.equal(backend.type, descriptor.type);
      assert.equal(typeof backend.getVersion === 'function', descriptor.capabilities.versioned && !f.unversioned);
    });

    it('found: a connection stored as a URI', async () => {
      const conn = id('uri');
      await f.put('connection', conn, { uri: `postgresql://user:${encodeURIComponent(PASSWORD)}@db.internal:5433/analytics?sslmode=require` });
      const gw = await gateway();
      const { status, body, source } = await get(gw, `/v1/connections/${conn}`);
      assert.equal(status, 200);
      assert.equal(source, gw.chain.links[0]!.backend.name);
      assert.deepEqual(body, {
        conn_id: conn,
        conn_type: 'postgres',
        description: null,
        host: 'db.internal',
        login: 'user',
        password: PASSWORD,
        schema: 'analytics',
        port: 5433,
        extra: { sslmode: 'require' },
      });
    });

    it('found: a connection stored as JSON or fields', async () => {
      const conn = id('fields');
      await f.put('connection', conn, { fields: { conn_type: 'mysql', host: 'mysql.internal', login: 'app', password: PASSWORD, port: 3306, schema: 'shop', extra: { charset: 'utf8mb4' } } });
      const gw = await gateway();
      const { status, body } = await get(gw, `/v1/connections/${conn}`);
      assert.equal(status, 200);
      assert.deepEqual(body, { conn_id: conn, conn_type: 'mysql', description: null, host: 'mysql.internal', login: 'app', password: PASSWORD, schema: 'shop', port: 3306, extra: { charset: 'utf8mb4' } });
    });

    it('found: a variable, and the empty string is a value', async (t) => {
      const [full, empty] = [id('var'), id('empty')];
      await f.put('variable', full, { variable: 'hello world' });
      if (!f.noEmptyString) await f.put('variable', empty, { variable: '' });
      const gw = await gateway();
      assert.deepEqual((await get(gw, `/v1/variables/${full}`)).body, { key: full, value: 'hello world' });
      if (f.noEmptyString) return t.skip(f.noEmptyString);
      const res = await get(gw, `/v1/variables/${empty}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { key: empty, value: '' });
    });

    it('config values, where the backend serves them', async (t) => {
      if (!f.kinds.includes('config')) return t.skip(`${label} serves no config (as in Airflow)`);
      const key = id('cfg');
      await f.put('config', key, { variable: 'sql_alchemy_conn_value' });
      const gw = await gateway();
      assert.deepEqual((await get(gw, `/v1/config/${key}`)).body, { key, value: 'sql_alchemy_conn_value' });
    });

    it('not found: 404 not_found for each kind', async () => {
      const gw = await gateway();
      for (const kind of ['connections', 'variables', 'config']) {
        const { status, body } = await get(gw, `/v1/${kind}/${id('missing')}`);
        assert.equal(status, 404, kind);
        assert.equal(body.code, 'not_found');
      }
    });

    it('disabled kind: a null path or prefix turns the kind off, stored values are not read', async (t) => {
      for (const kind of ['connection', 'variable'] as const) {
        const off = f.disable(kind);
        if (!off) return t.skip(`${label} has no option that turns a kind off`);
        const key = id(`off_${kind}`);
        await f.put(kind, key, kind === 'connection' ? { uri: 'http://h' } : { variable: 'v' });
        const gw = await gateway(off);
        assert.equal(gw.chain.links[0]!.backend.serves(kind), false);
        const { status } = await get(gw, `/v1/${kind === 'connection' ? 'connections' : 'variables'}/${key}`);
        assert.equal(status, 404);
      }
    });

    it('lookup pattern: only ids matching re.match(pattern, id, re.I) are asked', async () => {
      const allowed = id('allowed');
      const other = id('other');
      await f.put('connection', allowed, { uri: 'http://allowed.example' });
      await f.put('connection', other, { uri: 'http://other.example' });
      const pattern = `^${allowed.toUpperCase()}`; // start-anchored and case-insensitive
      const gw = await gateway({ connections_lookup_pattern: pattern });
      assert.equal((await get(gw, `/v1/connections/${allowed}`)).status, 200);
      assert.equal((await get(gw, `/v1/connections/${other}`)).status, 404);
    });

    it('naming defaults: the values above were stored under Airflow\'s default names only', async () => {
      // Every put() writes under the backend's Airflow default (AIRFLOW_CONN_<ID>, connections/<id>,
      // airflow/connections/<id>, airflow-connections-<id>, ...); reading them back with default
      // options proves the gateway derives the same names.
      const conn = id('naming');
      await f.put('connection', conn, { uri: 'redis://cache:6379/0' });
      const gw = await gateway();
      const { body } = await get(gw, `/v1/connections/${conn}`);
      assert.equal(body.host, 'cache');
      assert.equal(body.port, 6379);
    });

    it('backend error: a stored connection that does not parse is 503 backend_unavailable, never its text', async () => {
      const conn = id('broken');
      await f.put('connection', conn, f.broken);
      const gw = await gateway();
      const res = await gw.inject({ url: `/v1/connections/${conn}` });
      assert.equal(res.statusCode, 503);
      const body = res.json();
      assert.equal(body.code, 'backend_unavailable');
      // Local files are parsed whole: the file fails (its parse code); elsewhere the one value does
      // (the metastore's rows hold fields, not text: its broken value is one that does not decrypt).
      const code = label === 'local_filesystem' ? body.failed_backends[0].code : (f.brokenCode ?? 'invalid_value');
      assert.deepEqual(body.failed_backends, [{ name: gw.chain.links[0]!.backend.name, code }]);
      assert.ok(!res.body.includes(BROKEN_PASSWORD));
      assert.ok(!gw.logs.join('').includes(BROKEN_PASSWORD), 'not in the logs either');
    });
  });
}
