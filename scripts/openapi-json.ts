// Keeps openapi.json (what the gateway loads at startup) in step with openapi.yaml
// (the contract, written by hand). Parsing the YAML at every start cost 50–90 ms of
// the ~450 ms to ready; JSON.parse of the same document costs well under 1 ms.
//   node scripts/openapi-json.ts           rewrite openapi.json from openapi.yaml
//   node scripts/openapi-json.ts --check   exit 1 when the committed openapi.json is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { OPENAPI_JSON_PATH, OPENAPI_PATH } from '../src/http/openapi.ts';

export function renderOpenApiJson(): { current: string; wanted: string } {
  let current = '';
  try {
    current = readFileSync(OPENAPI_JSON_PATH, 'utf8');
  } catch {
    // not written yet
  }
  return { current, wanted: `${JSON.stringify(parse(readFileSync(OPENAPI_PATH, 'utf8')), null, 2)}\n` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { current, wanted } = renderOpenApiJson();
  if (process.argv.includes('--check')) {
    if (current !== wanted) {
      process.stderr.write(`${OPENAPI_JSON_PATH} is stale: openapi.yaml changed. Run: node scripts/openapi-json.ts\n`);
      process.exit(1);
    }
    process.stdout.write('openapi.json is up to date\n');
  } else {
    writeFileSync(OPENAPI_JSON_PATH, wanted);
    process.stdout.write(`wrote ${OPENAPI_JSON_PATH}\n`);
  }
}
