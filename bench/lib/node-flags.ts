// The Node flags the image starts the gateway with: the Dockerfile's ENTRYPOINT between `node` and
// the entry file. The bench starts every gateway with them (it measures the gateway as the image
// runs it); `npm start` and bin/secrets-gateway.js carry the same (test/unit/node-flags.test.ts).
// `npm start` also sets environment variables before `node`; the bench's source starts take them
// from package.json too (npmStartEnv).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url));

export function imageNodeFlags(): string[] {
  const dockerfile = readFileSync(join(REPO_DIR, 'Dockerfile'), 'utf8');
  const line = dockerfile.split('\n').findLast((l) => l.startsWith('ENTRYPOINT '));
  if (!line) throw new Error('the Dockerfile has no ENTRYPOINT');
  const argv = JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
  const entry = argv.indexOf('dist/main.js');
  if (argv[0] !== 'node' || entry < 0) throw new Error(`the Dockerfile's ENTRYPOINT is not \`node [flags] dist/main.js\`: ${line}`);
  return argv.slice(1, entry);
}

/**
 * The variables `npm start` sets before `node` (package.json's `VAR=value node …`), paths resolved
 * against the package directory, where npm runs its scripts (the bench's gateways run elsewhere).
 */
export function npmStartEnv(packageDir = REPO_DIR): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const env: Record<string, string> = {};
  for (const word of pkg.scripts['start']!.split(' ')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(word);
    if (!m) break;
    env[m[1]!] = resolve(packageDir, m[2]!);
  }
  return env;
}
