// What a raw socket can do to the HTTP layer: stall in the headers or the body, send headers too
// large, send bytes that are not HTTP. Each is answered as a problem document with an X-Request-Id
// (or the connection is closed), and none reaches a route's handler.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** ms from the first byte sent to the connection's end. */
  ms: number;
}

/** Writes `chunks` to a new connection, then waits for the server to answer and close it. */
function raw(port: number, chunks: string[], limitMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server held the connection over ${limitMs} ms; got: ${text.slice(0, 200)}`));
    }, limitMs);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => {}); // a reset after the answer is fine; the answer is what is checked
    socket.on('close', () => {
      clearTimeout(timer);
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body, ms: Date.now() - started });
    });
    for (const c of chunks) socket.write(c);
  });
}

describe('slow and malformed clients on a listening gateway', () => {
  let gw: TestGateway;
  let port: number;
  const handled: string[] = [];
  before(async () => {
    gw = await startTestGateway({
      env: { AIRFLOW_VAR_GOOD: 'slow-clients-value' },
      config: { server: { port: 0, request_timeout_seconds: 1, headers_timeout_seconds: 1 }, backends: [{ type: 'environment' }] },
      // The last step before a handler: a request recorded here reached one.
      beforeReady: (app) => app.addHook('preHandler', (request, _reply, done) => {
        handled.push(`${request.method} ${request.url}`);
        done();
      }),
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as { port: number }).port;
  });
  after(async () => {
    await gw.close();
  });

  const assertProblem = (res: RawAnswer, status: number, code: string) => {
    assert.equal(res.status, status, JSON.stringify(res));
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.match(res.headers['x-request-id'] ?? '', /^[0-9a-f]{20}-[0-9a-z]+$/);
    const body = JSON.parse(res.body);
    assert.equal(body.code, code);
    assert.equal(body.status, status);
    assert.equal(body.request_id, res.headers['x-request-id']);
  };

  it('a body that stalls (1 byte of 1,000) is answered 408 request_timeout within the request timeout, and never reaches the handler', async () => {
    const token = gw.token();
    const res = await raw(port, [
      `POST /v1/lookup HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
      '{',
    ]);
    assertProblem(res, 408, 'request_timeout');
    assert.ok(res.ms < 3000, `cut after ${res.ms} ms`);
    assert.deepEqual(handled, []);
  });

  it('headers that stall are answered 408 within the headers timeout', async () => {
    const res = await raw(port, ['GET /v1/variables/good HTTP/1.1\r\nHost: gw\r\n']);
    assertProblem(res, 408, 'request_timeout');
    assert.ok(res.ms < 3000, `cut after ${res.ms} ms`);
    assert.deepEqual(handled, []);
  });

  it('headers over the limit are answered 431 headers_too_large', async () => {
    const res = await raw(port, [`GET /v1/variables/good HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]);
    assertProblem(res, 431, 'headers_too_large');
    assert.deepEqual(handled, []);
  });

  it('bytes that are not HTTP are answered 400 invalid_request', async () => {
    const res = await raw(port, ['GET /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: x\r\n\r\n']);
    assertProblem(res, 400, 'invalid_request');
    assert.deepEqual(handled, []);
  });

  it('a whole request on the same gateway is still served', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/variables/good`, { headers: { authorization: `Bearer ${gw.token()}` } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { value: string }).value, 'slow-clients-value');
    assert.deepEqual(handled, ['GET /v1/variables/good']);
  });
});
