// Every way a Vault call can fail, forced against a real OpenBao: 403 on a read, 403 on a
// login, a revoked token, a timeout (the server stopped with SIGSTOP: it accepts and never
// answers), a refused connection, a TLS failure. For each: the stable code, and neither a
// Vault token nor the approle secret id in the logs, the audit log, /readyz, /v1/backends, the
// error bodies, node-vault's debug output, or the error object itself (every property,
// hidden ones included: nothing of a request, its headers or its body survives the client).
// The `debug` namespace node-vault logs under is switched on (as DEBUG=node-vault would): its
// debug() prints every request body, login bodies with secret ids included, unless the client
// silences it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { registerSecrets, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { freePort } from '../helpers/servers/common.ts';
import { startOpenBao, startOpenBaoTls, type ApproleCredentials, type OpenBaoServer } from '../helpers/servers/openbao.ts';
import { VaultError } from '../../src/backends/vault/client.ts';
import type { VaultBackend } from '../../src/backends/vault/backend.ts';
import { BackendError } from '../../src/backends/types.ts';

const ALL = ['connections:read:*', 'variables:read:*', 'config:read:*', 'backends:read'];

/** Every token or credential this file hands OpenBao or the gateway, and every token the gateway obtained. */
const secrets = new Set<string>();
const remember = (...values: string[]) => {
  for (const v of values) secrets.add(v);
  registerSecrets(values);
};

/** The token the gateway's client holds now (private state, read here only to check it never leaks). */
const heldToken = (gw: TestGateway): string | undefined => ((backendOf(gw).client as unknown as { current?: { token: string } }).current?.token);
const backendOf = (gw: TestGateway) => gw.chain.links[0]!.backend as VaultBackend;

const debug = createRequire(import.meta.url)('debug') as { enable(ns: string): void; disable(): string; (ns: string): { enabled: boolean } };
const stderr: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);

describe('Vault error paths on a real OpenBao: a code, and no token or secret id anywhere', () => {
  let bao: OpenBaoServer;
  let role: ApproleCredentials;

  before(async () => {
    debug.enable('node-vault');
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      stderr.push(String(chunk));
      return (realWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    bao = await startOpenBao();
    remember(bao.rootToken);
    await bao.putSecret('secret', 'variables/open', { value: 'visible' }, 2);
    await bao.putSecret('secret', 'variables/closed', { value: 'hidden' }, 2);
    await bao.writePolicy('narrow', 'path "secret/data/variables/open" {\n  capabilities = ["read"]\n}\n');
    await bao.enableApprole();
    role = await bao.createApproleRole('errors', ['narrow'], { tokenTtl: '1h' });
    remember(role.secretId, role.roleId);
  });
  after(async () => {
    debug.disable();
    process.stderr.write = realWrite;
    await bao.dispose();
  });

  /**
   * Starts a gateway on `backend`, runs `act`, then checks every place a token could surface:
   * the error bodies `act` returns, /readyz, /v1/backends, the logs, the audit log, stderr.
   */
  async function scenario(backend: Record<string, unknown>, act: (gw: TestGateway) => Promise<unknown[]>): Promise<{ bodies: any[]; readyz: any; backends: any }> {
    const gw = await startTestGateway({ config: { cache: { enabled: false }, backends: [{ type: 'vault', ...backend }] } });
    const stderrFrom = stderr.length;
    try {
      const held = heldToken(gw);
      if (held) remember(held);
      const bodies = await act(gw);
      const held2 = heldToken(gw);
      if (held2) remember(held2);
      const readyz = (await gw.inject({ url: '/readyz' })).json();
      const backends = (await gw.inject({ url: '/v1/backends', headers: { authorization: `Bearer ${gw.token(ALL)}` } })).json();
      await gw.close();
      const places: Record<string, string> = {
        'error bodies': JSON.stringify(bodies),
        '/readyz': JSON.stringify(readyz),
        '/v1/backends': JSON.stringify(backends),
        logs: gw.logs.join(''),
        'audit log': readFileSync(gw.auditFile, 'utf8'),
        stderr: stderr.slice(stderrFrom).join(''),
      };
      assert.ok(places['audit log']!.length > 0 && places.logs!.length > 0, 'there was something to search');
      for (const [where, text] of Object.entries(places)) for (const secret of secrets) assert.ok(!text.includes(secret), `a token or secret id (${secret.slice(0, 4)}…) in ${where}`);
      return { bodies, readyz, backends };
    } finally {
      await gw.close();
    }
  }

  /** The error a direct lookup throws: a BackendError whose every property (hidden ones too) holds no secret. */
  async function thrownBy(gw: TestGateway, key: string): Promise<BackendError> {
    const err = await backendOf(gw).getVariable(key).then(
      () => assert.fail('the lookup should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof BackendError, `a BackendError, not ${inspect(err)}`);
    assert.deepEqual(Object.keys(err).filter((k) => !['name', 'code', 'status', 'vaultErrors'].includes(k)), [], 'only code, status and Vault\'s errors');
    assert.equal(err.cause, undefined);
    const everything = inspect(err, { showHidden: true, depth: 20, getters: true });
    for (const secret of secrets) assert.ok(!everything.includes(secret), `a secret in the error object: ${everything.slice(0, 300)}`);
    return err;
  }

  const lookup = async (gw: TestGateway, key: string) => (await gw.inject({ url: `/v1/variables/${key}` })).json();

  it('403 on a read: access_denied, with Vault\'s reason; the token is not replaced', async () => {
    await scenario({ url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: role.secretId }, async (gw) => {
      assert.equal((await lookup(gw, 'open')).value, 'visible');
      const body = await lookup(gw, 'closed');
      assert.equal(body.failed_backends[0].code, 'access_denied');
      const err = await thrownBy(gw, 'closed');
      assert.ok(err instanceof VaultError);
      assert.equal(err.status, 403);
      assert.deepEqual(err.vaultErrors, ['1 error occurred:\n\t* permission denied\n\n']);
      assert.equal(backendOf(gw).client.logins, 1);
      return [body];
    });
  });

  it('403 on a login (a wrong secret id): auth_failed, the backend failed', async () => {
    const wrong = `wrong-${crypto.randomUUID()}`;
    remember(wrong);
    const { readyz, backends } = await scenario({ url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: wrong }, async (gw) => {
      const body = await lookup(gw, 'open');
      assert.equal(body.failed_backends[0].code, 'auth_failed');
      const err = await thrownBy(gw, 'open');
      assert.equal(err.code, 'auth_failed');
      assert.ok(err instanceof VaultError && (err.status === 400 || err.status === 403), `status ${(err as VaultError).status}`);
      return [body];
    });
    assert.equal(readyz.backends[0].state, 'failed');
    assert.equal(readyz.backends[0].error.code, 'auth_failed');
    assert.equal(backends.backends[0].error.code, 'auth_failed');
  });

  it('a revoked token: a configured one fails auth_failed; an approle one is replaced by a login', async () => {
    const created = await bao.write('auth/token/create', { policies: ['narrow'], ttl: '1h' });
    const token = created.body.auth.client_token as string;
    remember(token);
    await bao.write('auth/token/revoke', { token });
    const { readyz } = await scenario({ url: bao.url, token }, async (gw) => {
      const body = await lookup(gw, 'open');
      assert.equal(body.failed_backends[0].code, 'auth_failed');
      assert.equal((await thrownBy(gw, 'open')).code, 'auth_failed');
      return [body];
    });
    assert.equal(readyz.backends[0].state, 'failed');

    await scenario({ url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: role.secretId }, async (gw) => {
      assert.equal((await lookup(gw, 'open')).value, 'visible');
      const first = heldToken(gw)!;
      remember(first);
      await bao.write('auth/token/revoke', { token: first });
      assert.equal((await lookup(gw, 'open')).value, 'visible');
      assert.equal(backendOf(gw).client.logins, 2);
      assert.notEqual(heldToken(gw), first);
      remember(heldToken(gw)!);
      return [];
    });
  });

  it('a timeout: OpenBao accepts and never answers (SIGSTOP)', async () => {
    await scenario({ url: bao.url, token: bao.rootToken, timeout_seconds: 0.5, max_retries: 1 }, async (gw) => {
      assert.equal((await lookup(gw, 'open')).value, 'visible');
      await bao.pause();
      try {
        const body = await lookup(gw, 'open');
        assert.equal(body.failed_backends?.[0].code, 'timeout', JSON.stringify(body));
        assert.equal((await thrownBy(gw, 'open')).code, 'timeout');
        return [body];
      } finally {
        bao.resume();
      }
    });
  });

  it('a TLS failure: a certificate the gateway does not trust, and https:// to a server that does not speak TLS', async () => {
    const tls = await startOpenBaoTls();
    remember(tls.rootToken);
    try {
      await scenario({ url: tls.url, token: tls.rootToken, max_retries: 1 }, async (gw) => {
        const body = await lookup(gw, 'open');
        assert.equal(body.failed_backends[0].code, 'unreachable');
        const err = await thrownBy(gw, 'open');
        assert.equal(err.code, 'unreachable');
        assert.match(err.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT/);
        return [body];
      });
      // The same server with its CA given (`verify: <CA bundle>`): the TLS options reach the transport.
      await scenario({ url: tls.url, token: tls.rootToken, verify: tls.caFile, max_retries: 1 }, async (gw) => {
        assert.equal((await lookup(gw, 'open')).failed_backends, undefined);
        assert.equal((await gw.inject({ url: '/readyz' })).json().backends[0].state, 'ready');
        return [];
      });
    } finally {
      await tls.dispose();
    }
    await scenario({ url: bao.url.replace('http:', 'https:'), token: bao.rootToken, max_retries: 1 }, async (gw) => {
      const body = await lookup(gw, 'open');
      assert.equal(body.failed_backends[0].code, 'unreachable');
      assert.equal((await thrownBy(gw, 'open')).code, 'unreachable');
      return [body];
    });
  });

  it('a refused connection: OpenBao stopped (last: the server does not come back)', async () => {
    const refusedPort = await freePort();
    await scenario({ url: `http://127.0.0.1:${refusedPort}`, token: bao.rootToken, max_retries: 1 }, async (gw) => {
      const body = await lookup(gw, 'open');
      assert.equal(body.failed_backends[0].code, 'unreachable');
      return [body];
    });
    await scenario({ url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: role.secretId, max_retries: 1 }, async (gw) => {
      assert.equal((await lookup(gw, 'open')).value, 'visible');
      await bao.stop();
      const body = await lookup(gw, 'open');
      assert.equal(body.failed_backends[0].code, 'unreachable');
      assert.equal((await thrownBy(gw, 'open')).code, 'unreachable');
      return [body];
    });
  });

  it('node-vault\'s debug namespace was on all along, and nothing was printed under it', () => {
    assert.equal(debug('node-vault').enabled, true);
    assert.ok(!stderr.join('').includes('node-vault'), 'no node-vault debug line');
  });
});
