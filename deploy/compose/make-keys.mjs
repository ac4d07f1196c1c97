// The staging keys, made once in the `staging-keys` volume (compose.yaml, profile staging):
// the gateways' token signing key, the audit fingerprint key and Airflow's Fernet key.
// A key that exists is kept, so `docker compose up` again changes nothing; delete the
// volume to start over. Files are 0440, owned by uid 1000 (the gateway) and gid 0 (the
// group the apache/airflow image runs with), so both read them and nobody writes them.
//   node make-keys.mjs [dir]     (default /keys)
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? '/keys';
const keys = {
  'signing-key': () => randomBytes(48).toString('base64url'),
  'audit-key': () => randomBytes(48).toString('base64url'),
  // Fernet: 32 bytes, URL-safe base64 with padding, as Python's Fernet.generate_key() makes it.
  'fernet-key': () => randomBytes(32).toString('base64').replaceAll('+', '-').replaceAll('/', '_'),
};

for (const [name, make] of Object.entries(keys)) {
  const file = path.join(dir, name);
  let fd;
  try {
    fd = openSync(file, 'wx', 0o440);
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
    console.log(`${name}: kept`);
    continue;
  }
  writeSync(fd, `${make()}\n`);
  closeSync(fd);
  if (process.getuid?.() === 0) chownSync(file, 1000, 0);
  console.log(`${name}: created`);
}
