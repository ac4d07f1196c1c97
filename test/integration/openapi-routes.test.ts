// openapi.yaml and the routes are in step: every route the app serves is in the
// spec with its method, and every operation in the spec is served. (Each response
// the other tests see is validated against the spec by test/helpers/contract.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openApiDocument } from '../../src/http/openapi.ts';
import { specPathFor } from '../helpers/contract.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('openapi.yaml and the routes', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ config: { backends: [{ type: 'environment' }] } });
  });
  after(() => gw.close());

  // /docs is the gateway's own route; what is under it is Swagger UI's (its files, its copy of the spec).
  const isDocsAsset = (url: string) => url.startsWith('/docs/');
  const served = () => {
    const byPath = new Map<string, Set<string>>();
    for (const r of gw.routes) {
      if (isDocsAsset(r.url) || r.method === 'HEAD' || r.method === 'OPTIONS') continue;
      // A wildcard route may stand for several spec paths (`{conn_id}` and `{conn_id}/test`): the one with this method.
      const method = r.method.toLowerCase();
      // Routes on the same wildcard and method (GET {conn_id} and GET {conn_id}/resolution) differ by their permission's suffix.
      const suffix = r.permission && 'suffix' in r.permission ? (r.permission.suffix ?? '') : '';
      const candidates = r.url.endsWith('/*')
        ? Object.keys(openApiDocument().paths).filter((p) => p.startsWith(r.url.slice(0, -1)) && method in openApiDocument().paths[p]!)
        : [];
      if (candidates.length > 1) candidates.splice(0, candidates.length, ...candidates.filter((p) => (suffix ? p.endsWith(suffix) : /^[^/]*\/[^/]*\/[^/]*\/\{[^}]+\}$/.test(p))));
      const path = candidates.length === 1 ? candidates[0]! : (specPathFor(r.url) ?? r.url);
      byPath.set(path, byPath.get(path) ?? new Set());
      byPath.get(path)!.add(r.method.toLowerCase());
    }
    return byPath;
  };

  it('documents every route the gateway serves, with its method', () => {
    const doc = openApiDocument();
    for (const [path, methods] of served()) {
      assert.ok(doc.paths[path], `${path} is served but not in openapi.yaml`);
      for (const m of methods) assert.ok(m in doc.paths[path]!, `${m.toUpperCase()} ${path} is served but not in openapi.yaml`);
    }
  });

  it('serves every operation the spec documents', () => {
    const doc = openApiDocument();
    const byPath = served();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS.filter((m) => m in item)) {
        assert.ok(byPath.get(path)?.has(method), `${method.toUpperCase()} ${path} is in openapi.yaml but not served`);
      }
    }
  });

  it('every documented operation has an operationId and declared responses', () => {
    for (const [path, item] of Object.entries(openApiDocument().paths)) {
      for (const method of METHODS.filter((m) => m in item)) {
        const op = item[method] as { operationId?: string; responses?: object };
        assert.ok(op.operationId, `${method} ${path} has no operationId`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${path} has no responses`);
      }
    }
  });
});
