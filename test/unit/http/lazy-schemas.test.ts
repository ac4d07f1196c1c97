// Route schemas compiled on first use validate and serialize exactly as Fastify's own compilers do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { lazySchemaCompilers } from '../../../src/http/lazy-schemas.ts';

function app(schemas = lazySchemaCompilers()) {
  // The server's Ajv options reach the lazy compiler (Fastify's default would drop unknown keys silently).
  const fastify = Fastify({ schemaController: { compilersFactory: schemas.compilersFactory }, ajv: { customOptions: { removeAdditional: false } } });
  fastify.addSchema({ $id: 'Answer', type: 'object', properties: { n: { type: 'integer' } } });
  fastify.post(
    '/double',
    { schema: { body: { type: 'object', required: ['n'], additionalProperties: false, properties: { n: { type: 'integer' } } }, response: { 200: { $ref: 'Answer#' } } } },
    async (request) => ({ n: (request.body as { n: number }).n * 2, secret: 'not serialized' }),
  );
  return fastify;
}

describe('lazy route schemas', () => {
  it('validate bodies and serialize answers through the shared schemas, on first use', async () => {
    const fastify = app();
    await fastify.ready();
    const good = await fastify.inject({ method: 'POST', url: '/double', payload: { n: 21 } });
    assert.equal(good.statusCode, 200);
    assert.equal(good.body, '{"n":42}', 'the response schema drops what it does not declare');
    const bad = await fastify.inject({ method: 'POST', url: '/double', payload: { n: 'x' } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /body\/n must be integer/);
    const extra = await fastify.inject({ method: 'POST', url: '/double', payload: { n: 1, m: 2 } });
    assert.equal(extra.statusCode, 400, 'removeAdditional: false, from the server options');
    await fastify.close();
  });

  it('compileAll() compiles what no request used yet, and throws on a broken schema', async () => {
    const schemas = lazySchemaCompilers();
    const fastify = app(schemas);
    fastify.get('/broken', { schema: { querystring: { type: 'object', properties: { q: { type: 'no-such-type' } } } } }, async () => 'x');
    await fastify.ready();
    assert.throws(() => schemas.compileAll(), /type/);
    await fastify.close();
  });

  it('refuses a headers schema (Fastify lower-cases those only for its default compiler)', async () => {
    const fastify = app();
    fastify.get('/h', { schema: { headers: { type: 'object', properties: { 'X-Thing': { type: 'string' } } } } }, async () => 'x');
    await assert.rejects(async () => fastify.ready(), /headers schemas are not supported/);
  });
});
