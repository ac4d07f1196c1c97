// Process entry for the compiled package (bin/secrets-gateway.js) and `npm start`.
import { enableCompileCache } from 'node:module';

// V8 keeps the code it compiled for our modules and our dependencies on disk (in the OS temp dir),
// so every start after the first skips most parsing and compiling: about a fifth less time to
// ready. Where the directory cannot be written it does nothing (NODE_DISABLE_COMPILE_CACHE=1 turns
// it off). It must run before the application's modules load, hence the dynamic import below.
// `npm start` sets NODE_COMPILE_CACHE (package.json) so that the cache is on before this file
// itself loads: every .ts file's stripped code then comes from the cache, and Node's TypeScript
// stripper (amaro; its cost: see bench/optimization-log.md, "Figures quoted in code comments") is never
// loaded; the call below then does nothing.
enableCompileCache();

const { cli } = await import('./cli.ts');
cli(process.argv);
