// openapi.yaml is the contract. Routes take their response schemas from its
// components (registered with Fastify by name), so the spec and the serializer
// cannot drift apart; a test checks the paths and responses in step.
// The gateway reads openapi.json, the same document generated from openapi.yaml by
// scripts/openapi-json.ts (a test fails when it is stale): parsing the YAML at every
// start cost more time than everything else the docs need.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_DIR } from '../package-dir.ts';

export const OPENAPI_PATH = path.join(PACKAGE_DIR, 'openapi.yaml');
export const OPENAPI_JSON_PATH = path.join(PACKAGE_DIR, 'openapi.json');

export interface OpenApiDocument {
  openapi: string;
  info: Record<string, unknown>;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Record<string, unknown>> } & Record<string, unknown>;
}

let cached: OpenApiDocument | undefined;

export function openApiDocument(): OpenApiDocument {
  cached ??= JSON.parse(readFileSync(OPENAPI_JSON_PATH, 'utf8')) as OpenApiDocument;
  return cached;
}

const COMPONENT_REF = /^#\/components\/schemas\/(.+)$/;

/** Rewrites `#/components/schemas/X` to `X#`, the id each component is registered under. */
function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    const m = k === '$ref' && typeof v === 'string' ? COMPONENT_REF.exec(v) : null;
    out[k] = m ? `${m[1]}#` : rewriteRefs(v);
  }
  return out;
}

/** Every component schema, each with `$id` set to its name, ready for `fastify.addSchema`. */
export function componentSchemas(): Array<Record<string, unknown>> {
  return Object.entries(openApiDocument().components.schemas).map(([name, schema]) => ({
    $id: name,
    ...(rewriteRefs(schema) as Record<string, unknown>),
  }));
}

/** A reference to a component schema, for a route's schema. */
export const ref = (name: string) => ({ $ref: `${name}#` });
