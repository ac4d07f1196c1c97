// Route schemas compiled when a route first needs them, not all at startup.
//
// Fastify compiles a validator (Ajv) and a serializer per status code
// (fast-json-stringify) for every route before it listens: time at every start, for
// this gateway's routes, most of them for routes a given replica never serves
// (/docs, the 405 guards, cache invalidation...). Here the same compilers Fastify
// uses by default (@fastify/ajv-compiler, @fastify/fast-json-stringify-compiler,
// with the server's options and the shared component schemas) are built and run
// on a route's first request instead: that request pays for it once. (The figures: see
// bench/optimization-log.md, "Figures quoted in code comments".)
//
// Nothing is validated or serialized differently, only later. A broken schema
// would therefore surface on its route's first request rather than at startup:
// every test gateway calls compileAll() (test/helpers/gateway.ts), so the suite
// still fails on one.
import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
// What Fastify calls, as it calls it (the packages' own types are overloads for other modes).
interface RouteSchema { schema: unknown; method: string; url: string; httpPart?: string }
type Validate = ((data: unknown) => unknown) & { errors?: unknown };
type Serialize = (doc: unknown) => string;
type Factory<F> = (externalSchemas: unknown, options: unknown) => (route: RouteSchema) => F;

export interface LazySchemas {
  /** For Fastify's `schemaController.compilersFactory`. */
  compilersFactory: CompilersFactory;
  /** Compiles every schema not compiled yet (what Fastify would have done at startup); throws on a broken one. */
  compileAll(): void;
}

export function lazySchemaCompilers(): LazySchemas {
  const pending = new Set<() => unknown>();
  /** Runs `compile` on first use; until then it waits in `pending`. */
  const once = <T>(compile: () => T): (() => T) => {
    let compiled: T | undefined;
    const get = () => {
      if (compiled === undefined) {
        compiled = compile();
        pending.delete(get);
      }
      return compiled;
    };
    pending.add(get);
    return get;
  };
  const validators = AjvCompiler() as unknown as Factory<Validate>;
  const serializers = SerializerSelector() as unknown as Factory<Serialize>;

  const buildValidator: Factory<Validate> = (externalSchemas, ajvOptions) => {
    const compiler = once(() => validators(externalSchemas, ajvOptions));
    return (route) => {
      // Fastify lower-cases the property names of a headers schema for its default compiler only.
      if (route.httpPart === 'headers') throw new Error(`${route.method} ${route.url}: headers schemas are not supported (lazy compilation)`);
      const validator = once(() => compiler()(route));
      // Fastify reads `.errors` off the function it called, after a `false`.
      const validate: Validate = (data) => {
        const fn = validator();
        const result = fn(data);
        validate.errors = fn.errors;
        return result;
      };
      return validate;
    };
  };

  const buildSerializer: Factory<Serialize> = (externalSchemas, serializerOptions) => {
    const compiler = once(() => serializers(externalSchemas, serializerOptions));
    return (route) => {
      const serializer = once(() => compiler()(route));
      return (doc) => serializer()(doc);
    };
  };

  return {
    compilersFactory: { buildValidator, buildSerializer } as unknown as CompilersFactory,
    compileAll() {
      while (pending.size > 0) for (const compile of [...pending]) compile();
    },
  };
}
