// Bad input gets a clear 4xx problem response with a stable code, and changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

describe('bad input', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      env: { AIRFLOW_CONN_GOOD: 'http://h', AIRFLOW_VAR_GOOD: 'v' },
      config: { server: { port: 0, body_limit_bytes: 4096 }, backends: [{ type: 'environment' }] },
    });
  });
  after(async () => {
    await gw.close();
    assert.deepEqual(gw.contractProblems, []);
  });

  const expectProblem = async (
    req: { method: string; url: string; payload?: string | object; headers?: Record<string, string> },
    status: number,
    code: string,
  ) => {
    const res = await gw.inject(req as never);
    assert.equal(res.statusCode, status, `${req.method} ${req.url.slice(0, 80)}: ${res.body.slice(0, 200)}`);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    const body = res.json();
    assert.equal(body.code, code);
    assert.equal(body.status, status);
    assert.equal(body.type, `urn:secrets-gateway:problem:${code}`);
    assert.ok(body.title && body.detail && body.request_id);
    return res;
  };

  it('rejects ids Airflow would not accept', async () => {
    for (const id of ['bad%20id', 'semi;colon', 'quote%22', 'emoji%F0%9F%94%91', 'a%3Cb']) {
      await expectProblem({ method: 'GET', url: `/v1/connections/${id}` }, 400, 'invalid_id');
    }
  });

  it('refuses ids with control characters before validation: no grant matches them, not even "*"', async () => {
    for (const id of ['tab%09id', 'nul%00id', 'new%0Aline']) {
      await expectProblem({ method: 'GET', url: `/v1/connections/${id}` }, 403, 'forbidden');
    }
    for (const id of ['nul%00id', 'new%0Aline', 'del%7F', 'c1%C2%85']) {
      await expectProblem({ method: 'GET', url: `/v1/variables/${id}` }, 403, 'forbidden');
    }
  });

  it('rejects an empty id and a 10 kB id', async () => {
    await expectProblem({ method: 'GET', url: '/v1/connections/' }, 400, 'invalid_id');
    await expectProblem({ method: 'GET', url: `/v1/connections/${'a'.repeat(10_000)}` }, 400, 'invalid_id');
    await expectProblem({ method: 'GET', url: `/v1/variables/${'a'.repeat(10_000)}` }, 400, 'invalid_id');
    await expectProblem({ method: 'GET', url: `/v1/connections/${'a'.repeat(251)}` }, 400, 'invalid_id');
    assert.equal((await gw.inject({ method: 'GET', url: `/v1/variables/${'a'.repeat(250)}` })).json().code, 'not_found');
  });

  it('answers unknown routes with route_not_found', async () => {
    await expectProblem({ method: 'GET', url: '/v2/connections/good' }, 404, 'route_not_found');
    await expectProblem({ method: 'GET', url: '/' }, 404, 'route_not_found');
    await expectProblem({ method: 'GET', url: '/v1/connections' }, 404, 'route_not_found');
  });

  it('answers wrong methods with 405 and Allow', async () => {
    // PUT and DELETE are the write API.
    for (const method of ['POST', 'PATCH']) {
      const res = await expectProblem({ method, url: '/v1/connections/good' }, 405, 'method_not_allowed');
      assert.equal(res.headers.allow, 'GET, PUT, DELETE, HEAD');
    }
    const res = await expectProblem({ method: 'GET', url: '/v1/lookup' }, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'POST');
    await expectProblem({ method: 'PATCH', url: '/v1/variables/good' }, 405, 'method_not_allowed');
    await expectProblem({ method: 'DELETE', url: '/v1/config/good' }, 405, 'method_not_allowed');
    // Methods Node parses but that no route serves: 405, not a 404 or a 400 about the body.
    for (const method of ['TRACE', 'QUERY']) {
      const answered = await expectProblem({ method, url: '/v1/connections/good' }, 405, 'method_not_allowed');
      assert.equal(answered.headers.allow, 'GET, PUT, DELETE, HEAD');
      assert.equal((await expectProblem({ method, url: '/healthz' }, 405, 'method_not_allowed')).headers.allow, 'GET, HEAD');
    }
    await expectProblem({ method: 'QUERY', url: '/v1/lookup', payload: '{}', headers: { 'content-type': 'application/json' } }, 405, 'method_not_allowed');
  });

  it('answers a malformed percent-encoding with a problem document and a request id, never echoing the path', async () => {
    for (const url of ['/v1/connections/a%zz', '/v1/variables/hush%zzname', '/v1/config/%E0%A4%A']) {
      const res = await expectProblem({ method: 'GET', url }, 400, 'invalid_request');
      assert.match(res.headers['x-request-id'] as string, /^[0-9a-f]{20}-[0-9a-z]+$/);
      assert.equal(res.json().request_id, res.headers['x-request-id']);
      assert.ok(!res.body.includes('%zz') && !res.body.includes('hush') && !res.body.includes('%E0'), res.body);
    }
  });

  it('refuses unknown query parameters on every secret route', async () => {
    await expectProblem({ method: 'GET', url: '/v1/variables/good?unknown=1' }, 400, 'invalid_request');
    await expectProblem({ method: 'GET', url: '/v1/config/good?format=json' }, 400, 'invalid_request');
  });

  it('rejects a bad format parameter', async () => {
    await expectProblem({ method: 'GET', url: '/v1/connections/good?format=xml' }, 400, 'invalid_request');
    await expectProblem({ method: 'GET', url: '/v1/connections/good?unknown=1' }, 400, 'invalid_request');
  });

  it('rejects malformed, empty, wrongly typed and oversized lookup bodies', async () => {
    const json = { 'content-type': 'application/json' };
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: '{"connections": [', headers: json }, 400, 'invalid_json');
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: '', headers: json }, 400, 'invalid_json');
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: {} }, 400, 'invalid_request');
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: { connections: 'good' } }, 400, 'invalid_request');
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: { connections: [1] } }, 400, 'invalid_request');
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: { secrets: ['x'] } }, 400, 'invalid_request');
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: { connections: Array(101).fill('good') } }, 400, 'invalid_request');
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: { variables: ['x'.repeat(5000)] } }, 413, 'payload_too_large');
    await expectProblem({ method: 'POST', url: '/v1/lookup', payload: 'connections=good', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type');
  });

  it('changes nothing: good requests still answer the same afterwards', async () => {
    const res = await gw.inject({ method: 'GET', url: '/v1/connections/good' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().host, 'h');
    assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/good' })).json().value, 'v');
  });
});
