// Bundles the gateway's code and most of its dependencies into dist/cli.js (run by
// `npm run build`, after tsc). Node resolves, reads and compiles every module file
// separately: a start loaded ~1,000 files (TypeBox alone ~250), which was most of the
// time to ready. One file loads in a fraction of that, and Node's compile cache
// (enabled by dist/main.js before it imports dist/cli.js) keeps its compiled code.
//
// dist/main.js stays tsc's own small file, so the compile cache is on before the
// bundle loads. The other files tsc writes to dist/ are left there but not loaded.
// Kept out of the bundle (loaded from node_modules, as before):
// - what only some configurations load, on demand (the AWS and GCP SDKs, gRPC, ioredis):
//   they stay lazy, and google-gax reads its protos from its package directory;
// - @fastify/swagger-ui, which serves the Swagger UI files from its package directory;
// - pg-native, pg's optional native driver (not installed).
// Code split off at a dynamic import (the Redis bus) goes to its own file in dist/.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  // At dist/'s top level, like src/package-dir.ts (whose paths count one level below the package root).
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: 'linked',
  // Node keeps an ES module's source text alive for as long as the module, outside the V8 heap, and a
  // source with even one non-ASCII character is held as two bytes per character. Whitespace and syntax
  // minified (3.3 → 2.0 MB) and ASCII only (esbuild escapes non-ASCII in code; the licence comments, the
  // only non-ASCII text left, go to dist/cli.js.LEGAL.txt), the RSS at ready is ~4 MB lower
  // (bench/optimization-log.md). Names are kept, so stack traces and class names read as written.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  legalComments: 'linked',
  external: ['@aws-sdk/*', '@google-cloud/*', '@grpc/*', 'ioredis', 'pg-native', '@fastify/swagger-ui'],
  // Bundled CommonJS packages call require() for Node's built-ins.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [
    {
      // node-vault requires axios when it loads, but the gateway hands it its own transport (its
      // `request-promise` option, src/backends/vault/client.ts), so axios is never called: left out,
      // a start with a vault backend saves ~50 ms of CPU (axios, form-data, mime-db, follow-redirects).
      name: 'node-vault-without-axios',
      setup(b) {
        b.onResolve({ filter: /^axios$/ }, (args) => (args.importer.includes('/node-vault/') ? { path: 'axios', namespace: 'no-axios' } : undefined));
        b.onLoad({ filter: /.*/, namespace: 'no-axios' }, () => ({
          contents: "module.exports = { create() { throw new Error('axios is not in the bundle: give node-vault the gateway transport'); } };",
          loader: 'js',
        }));
      },
    },
  ],
});
