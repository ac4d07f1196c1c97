// The Vault backend as the image runs it: the bundled command (`npm run build` first) serving from
// a real OpenBao with an approle login. The bundle leaves node-vault's axios out (scripts/bundle.ts):
// node-vault is given the gateway's transport, so nothing calls it; this proves the logins and reads
// work without it. DEBUG names node-vault: nothing it would print (login bodies) reaches the output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { keepLog, registerSecrets, tempDir, writeTestAccessControl } from '../helpers/gateway.ts';
import { startOpenBao, type ApproleCredentials, type OpenBaoServer } from '../helpers/servers/openbao.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = path.join(root, 'dist');

describe('the bundled gateway with a vault backend', () => {
  let bao: OpenBaoServer;
  let role: ApproleCredentials;
  before(async () => {
    bao = await startOpenBao();
    await bao.putSecret('secret', 'variables/bundled', { value: 'from-openbao' }, 2);
    await bao.writeReadPolicy('reader', ['secret']);
    await bao.enableApprole();
    role = await bao.createApproleRole('bundle', ['reader']);
    registerSecrets([bao.rootToken, role.secretId]);
  });
  after(async () => {
    await bao.dispose();
  });

  it('the vault chunk holds node-vault and not axios', () => {
    // Each backend folder's lazily imported backend.ts is a chunk of its own (backend-<hash>.js): the vault one holds node-vault.
    const chunks = [...readFileSync(path.join(dist, 'cli.js'), 'utf8').matchAll(/import\("\.\/(backend-[A-Z0-9]+\.js)"\)/g)].map((m) => m[1]!);
    const vault = chunks.map((chunk) => readFileSync(path.join(dist, chunk), 'utf8')).filter((code) => /tokenLookupSelf/.test(code));
    assert.equal(vault.length, 1, 'dist/cli.js imports one chunk with node-vault');
    assert.doesNotMatch(vault[0]!, /AxiosError|follow-redirects/);
  });

  it('serves a variable through an approle login, and prints no secret id', async () => {
    const dir = tempDir();
    const access = writeTestAccessControl(dir, path.basename(dir));
    const config = {
      server: { host: '127.0.0.1', port: 0 },
      auth: access.auth,
      audit: access.audit,
      backends: [{ type: 'vault', url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: role.secretId }],
    };
    writeFileSync(path.join(dir, 'config.yaml'), stringify(config));
    const child = spawn(process.execPath, [path.join(root, 'bin/secrets-gateway.js'), 'serve', '--config', path.join(dir, 'config.yaml')], {
      cwd: dir,
      env: { PATH: process.env.PATH, DEBUG: 'node-vault' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listen line: ${out}`)), 15_000);
        const look = () => {
          const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        };
        child.stdout.on('data', look);
        child.on('exit', () => reject(new Error(`exited: ${out}`)));
      });
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      const res = await fetch(`${url}/v1/variables/bundled`, { headers: { authorization: `Bearer ${access.token()}` } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { key: 'bundled', value: 'from-openbao' });
    } finally {
      const exit = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      await exit;
      keepLog('vault-bundle', out);
    }
    assert.match(out, /"msg":"vault login"/);
    assert.ok(!out.includes(role.secretId) && !out.includes('node-vault'), 'no secret id and no node-vault debug line in the output');
  });
});
