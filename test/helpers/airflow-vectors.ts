// Airflow's conformance vectors (shared/conformance/airflow-vectors.json, taken from Airflow's own tests).
// CI clones the repository with ../shared beside it; test/fixtures/airflow-vectors.json is a copy, so that a
// clone alone runs the suite too. Where the original is there, the copy must equal it (a test fails
// otherwise: refresh the copy with `cp ../shared/conformance/airflow-vectors.json test/fixtures/`).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const COPY = fileURLToPath(new URL('../fixtures/airflow-vectors.json', import.meta.url));
const ORIGINAL = fileURLToPath(new URL('../../../shared/conformance/airflow-vectors.json', import.meta.url));

const copy = readFileSync(COPY, 'utf8');
if (existsSync(ORIGINAL) && readFileSync(ORIGINAL, 'utf8') !== copy) {
  throw new Error(`${COPY} differs from ${ORIGINAL}: copy the shared vectors again`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const AIRFLOW_VECTORS: any = JSON.parse(copy);
