// The HTTP API end to end on real backends: environment variables and local files.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { AIRFLOW_VECTORS } from '../helpers/airflow-vectors.ts';

const vectors = AIRFLOW_VECTORS;
type UriVector = { uri: string; source: string; expected: Record<string, unknown> & { error?: string }; extra_dejson_core_main?: unknown };
const parseable: UriVector[] = vectors.uri_parse.filter((v: UriVector) => !v.expected.error);

describe('HTTP API on environment and local-file backends', () => {
  let gw: TestGateway;
  const env: NodeJS.ProcessEnv = {
    AIRFLOW_VAR_FROM_ENV: 'env-value',
    AIRFLOW_VAR_EMPTY: '',
    AIRFLOW_CONN_SHADOWED: 'mysql://env-host',
    AIRFLOW_CONN_JSON_CONN: ' {"conn_type": "postgresql", "host": "db.example", "port": "5432", "extra": {"sslmode": "require"}}',
    AIRFLOW_CONN_EMPTY_CONN: '',
    AIRFLOW_CONN_BROKEN: 'http://https://ftp://example.com',
    AIRFLOW_CONN_EXACT_EXTRA: '{"conn_type": "http", "extra": {"b": 1.0, "10": 2, "big": 12345678901234567890, "u": "\u00fc"}}',
  };
  // Each public vector goes into the environment as AIRFLOW_CONN_VEC_<n>.
  parseable.forEach((v, i) => (env[`AIRFLOW_CONN_VEC_${i}`] = v.uri));

  before(async () => {
    gw = await startTestGateway({
      env,
      files: {
        'connections.yaml': 'shadowed: postgres://file-host/db\nfile_only:\n  conn_type: http\n  host: example.org\n  port: 8080\n',
        'variables.yaml': 'file_var: from-file\nteam/nested/key: nested\nnull_var: ~\nobject_var:\n  a: [1, 2]\n',
      },
      config: {
        server: { port: 0 },
        backends: [
          { type: 'local_filesystem', connections_file_path: 'connections.yaml', variables_file_path: 'variables.yaml' },
          { type: 'environment' },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    assert.deepEqual(gw.contractProblems, [], 'every response matches openapi.yaml');
  });

  const get = (url: string, headers: Record<string, string> = {}) => gw.inject({ method: 'GET', url, headers });

  it('serves every public URI vector put in AIRFLOW_CONN_* with the expected fields', async () => {
    for (const [i, v] of parseable.entries()) {
      const res = await get(`/v1/connections/vec_${i}`);
      assert.equal(res.statusCode, 200, `${v.source}: ${res.body}`);
      const body = res.json();
      for (const field of ['conn_type', 'host', 'login', 'password', 'schema', 'port', 'extra'] as const) {
        // Where Airflow versions differ, the pinned Airflow (3.3.2, which json.loads query values) is the truth.
        const expected = field === 'extra' && v.extra_dejson_core_main !== undefined ? v.extra_dejson_core_main : v.expected[field];
        assert.deepEqual(body[field], expected, `${v.source}: ${field}`);
      }
      assert.equal(body.conn_id, `vec_${i}`);
      assert.equal(body.description, null);
      assert.equal(res.headers['x-secret-source'], 'environment');
      assert.equal(res.headers['cache-control'], 'no-store');
    }
  });

  it('takes the first backend that has the connection', async () => {
    const res = await get('/v1/connections/shadowed');
    assert.equal(res.json().host, 'file-host');
    assert.equal(res.headers['x-secret-source'], 'local_filesystem');
  });

  it('parses JSON connection values (first non-space character "{")', async () => {
    const body = (await get('/v1/connections/json_conn')).json();
    assert.equal(body.conn_type, 'postgres');
    assert.equal(body.port, 5432);
    assert.deepEqual(body.extra, { sslmode: 'require' });
  });

  it('writes extra as Airflow decoded it: floats stay floats, big integers exact, key order kept', async () => {
    const res = await get('/v1/connections/exact_extra');
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /"extra": \{"b": 1\.0, "10": 2, "big": 12345678901234567890, "u": "\\u00fc"\}/);
    assert.equal(res.json().conn_type, 'http');
  });

  it('serves the URI form with ?format=uri', async () => {
    const res = await get('/v1/connections/file_only?format=uri');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { conn_id: 'file_only', uri: 'http://example.org:8080' });
  });

  it('treats an empty AIRFLOW_CONN_ value as not found', async () => {
    const res = await get('/v1/connections/empty_conn');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'not_found');
  });

  it('answers 503 backend_unavailable, not 404, when a value fails to parse and nothing else has it', async () => {
    const res = await get('/v1/connections/broken');
    assert.equal(res.statusCode, 503);
    const body = res.json();
    assert.equal(body.code, 'backend_unavailable');
    assert.deepEqual(body.failed_backends, [{ name: 'environment', code: 'invalid_value' }]);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.doesNotMatch(res.body, /example\.com/, 'the stored value is not echoed');
  });

  it('serves variables: "" is a value, null is a miss, keys may contain "/"', async () => {
    assert.deepEqual((await get('/v1/variables/from_env')).json(), { key: 'from_env', value: 'env-value' });
    assert.deepEqual((await get('/v1/variables/empty')).json(), { key: 'empty', value: '' });
    assert.deepEqual((await get('/v1/variables/file_var')).json(), { key: 'file_var', value: 'from-file' });
    assert.deepEqual((await get('/v1/variables/team/nested/key')).json(), { key: 'team/nested/key', value: 'nested' });
    assert.deepEqual((await get('/v1/variables/team%2Fnested%2Fkey')).json(), { key: 'team/nested/key', value: 'nested' });
    assert.equal((await get('/v1/variables/null_var')).statusCode, 404);
    assert.deepEqual((await get('/v1/variables/object_var')).json(), { key: 'object_var', value: { a: [1, 2] } });
    assert.equal((await get('/v1/variables/nope')).json().code, 'not_found');
  });

  it('answers config lookups (the environment backend has no get_config)', async () => {
    const res = await get('/v1/config/sql_alchemy_conn');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'not_found');
  });

  it('resolves a batch in one round trip, one result per item', async () => {
    const res = await gw.inject({
      method: 'POST',
      url: '/v1/lookup',
      payload: { connections: ['shadowed', 'nope', 'bad id!', 'broken'], variables: ['empty', 'from_env', 'missing'] },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(
      body.connections.map((c: { conn_id: string; status: string; code?: string }) => [c.conn_id, c.status, c.code]),
      [
        ['shadowed', 'found', undefined],
        ['nope', 'not_found', 'not_found'],
        ['bad id!', 'error', 'invalid_id'],
        ['broken', 'error', 'backend_unavailable'],
      ],
    );
    assert.equal(body.connections[0].connection.host, 'file-host');
    assert.equal(body.connections[0].source, 'local_filesystem');
    assert.deepEqual(body.variables[0], { key: 'empty', status: 'found', source: 'environment', value: '' });
    assert.equal(body.variables[2].status, 'not_found');
    assert.deepEqual(body.config, []);
  });

  it('reports health and readiness with every backend', async () => {
    assert.deepEqual((await get('/healthz')).json(), { status: 'ok' });
    const ready = await get('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), {
      status: 'ready',
      backends: [
        { name: 'local_filesystem', type: 'local_filesystem', state: 'ready' },
        { name: 'environment', type: 'environment', state: 'ready' },
      ],
    });
  });

  it('serves the OpenAPI document and the human docs', async () => {
    const spec = await get('/openapi.json');
    assert.equal(spec.statusCode, 200);
    assert.equal(spec.json().openapi, '3.1.0');
    const docs = await get('/docs/');
    assert.equal(docs.statusCode, 200);
    assert.match(docs.headers['content-type'] as string, /text\/html/);
    assert.match(docs.headers['content-security-policy'] as string, /default-src 'self'/);
    assert.match(docs.body, /swagger-initializer\.js/);
  });

  it('serves the Swagger UI files (loaded on the first /docs request), conditionally, and 404s what it does not have', async () => {
    const css = await get('/docs/static/swagger-ui.css');
    assert.equal(css.statusCode, 200);
    assert.match(css.headers['content-type'] as string, /^text\/css/);
    assert.equal(Number(css.headers['content-length']), css.rawPayload.length);
    assert.ok(css.rawPayload.length > 10_000);
    assert.equal((await get('/docs/static/swagger-ui.css', { 'if-none-match': css.headers.etag as string })).statusCode, 304);
    const head = await gw.inject({ method: 'HEAD', url: '/docs/static/swagger-ui.css' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], css.headers['content-length']);
    const redirect = await get('/docs/static/index.html');
    assert.equal(redirect.statusCode, 302);
    assert.equal(redirect.headers.location, '/docs/');
    const spec = await get('/docs/json');
    assert.equal(spec.json().openapi, '3.1.0');
    const missing = await get('/docs/static/no-such-file.js');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'route_not_found');
  });

  it('echoes a plain X-Request-Id and replaces one that could forge log lines', async () => {
    assert.equal((await get('/healthz', { 'x-request-id': 'abc-123' })).headers['x-request-id'], 'abc-123');
    const forged = (await get('/healthz', { 'x-request-id': 'a"}\\n{"level":60' })).headers['x-request-id'] as string;
    assert.match(forged, /^[0-9a-f]{20}-[0-9a-z]+$/);
    // A new id per request, with the process's prefix.
    const [a, b] = [(await get('/healthz')).headers['x-request-id'] as string, (await get('/healthz')).headers['x-request-id'] as string];
    assert.notEqual(a, b);
    assert.equal(a.slice(0, 21), forged.slice(0, 21));
  });

  it('never writes a secret value to the log', () => {
    const log = gw.logs.join('');
    for (const secret of ['env-value', 'from-file', 'password', 'pass!word', 'example.com']) {
      assert.ok(!log.includes(secret), `log contains ${secret}`);
    }
  });
});
