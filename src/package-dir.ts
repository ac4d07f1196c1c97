// Where the package's own files are (config/, openapi.json), from a module one level below
// the package root: src/ when run from source, dist/ when built. Kept in this one module at
// that depth, so the paths hold when dist/ is bundled into one file (scripts/bundle.ts).
import { fileURLToPath } from 'node:url';

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
