// Version identities, against each real server. A secret deleted and created again is a new
// version even where the store restarts its numbering (Vault KV v2 after its metadata is deleted,
// GCP after the secret is), so the cache never confirms the old value by a version check:
// `Cache-Control: no-cache` gets the new value at once, and a plain request within one TTL.
// Also getVersion(), the cache's cheap revalidation: it agrees with the identity a lookup returned.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { awsBackendConfig, awsFixture, gcpBackendConfig, gcpFixture, GCP_PROJECT } from '../helpers/backend-fixtures.ts';
import { registerSecrets, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startGcpSecretManager, type GcpSecretManagerServer } from '../helpers/servers/gcp-secret-manager.ts';
import { startMoto, type MotoServer } from '../helpers/servers/moto.ts';
import { startOpenBao, type OpenBaoServer } from '../helpers/servers/openbao.ts';
import { createAirflowSecretTables, startPostgres, type PostgresServer } from '../helpers/servers/postgres.ts';

it('aws_secrets_manager: Found.version is the VersionId, getVersion follows AWSCURRENT', async () => {
  const f = await awsFixture();
  const gw = await f.gateway();
  const sm = f.moto.secretsManagerClient();
  try {
    await f.put('variable', 'rotating', { variable: 'one' });
    const backend = gw.chain.links[0]!.backend;
    const first = await backend.getVariable('rotating');
    assert.ok(first?.version);
    assert.equal(await backend.getVersion!('variable', 'rotating'), first.version);
    await sm.send(new PutSecretValueCommand({ SecretId: 'airflow/variables/rotating', SecretString: 'two' }));
    const second = await backend.getVariable('rotating');
    assert.notEqual(second!.version, first.version);
    assert.equal(await backend.getVersion!('variable', 'rotating'), second!.version);
    assert.equal(await backend.getVersion!('variable', 'never-stored'), null);
  } finally {
    sm.destroy();
    await gw.close();
    await f.dispose();
  }
});

it('gcp_secret_manager: Found.version is the version name with its create_time, and getVersion resolves latest to the same', async () => {
  const f = await gcpFixture();
  const gw = await f.gateway();
  const client = f.gcp.client();
  try {
    await f.put('variable', 'rotating', { variable: 'one' });
    const backend = gw.chain.links[0]!.backend;
    const first = await backend.getVariable('rotating');
    assert.match(first!.version!, /\/versions\/1@\d+\.\d{9}$/);
    assert.equal(await backend.getVersion!('variable', 'rotating'), first!.version);
    await client.addSecretVersion({ parent: `projects/${GCP_PROJECT}/secrets/airflow-variables-rotating`, payload: { data: Buffer.from('two') } });
    assert.match((await backend.getVersion!('variable', 'rotating'))!, /\/versions\/2@/);
    assert.equal((await backend.getVariable('rotating'))!.value, 'two');
    assert.equal(await backend.getVersion!('variable', 'never-stored'), null);
  } finally {
    await client.close();
    await gw.close();
    await f.dispose();
  }
});

/** One store: how to write a variable and a connection (an Airflow URI) there, and delete them. */
interface Store {
  label: string;
  backend: Record<string, unknown>;
  put(kind: 'variable' | 'connection', id: string, value: string): Promise<void>;
  remove(kind: 'variable' | 'connection', id: string): Promise<void>;
}

const TTL_SECONDS = 2;

/**
 * The promise of docs/cache.md, through HTTP: a secret deleted and created again with a
 * new value (its version number starting over where the store does that) is served
 * - at once to `Cache-Control: no-cache` (a connection, whose password changed),
 * - within one TTL to a plain request (a variable),
 * and an unchanged secret keeps its X-Secret-Version when the backend confirms it.
 */
async function recreateIsServed(store: Store): Promise<void> {
  const tag = randomBytes(4).toString('hex');
  const [oldPassword, newPassword, oldValue, newValue] = ['old-pass', 'new-pass', 'old-value', 'new-value'].map((v) => `${v}-${tag}`) as [string, string, string, string];
  registerSecrets([oldPassword, newPassword, oldValue, newValue]);
  const conn = `recreated_conn_${tag}`;
  const variable = `recreated_var_${tag}`;
  await store.put('connection', conn, `postgres://airflow:${oldPassword}@db.internal:5432/warehouse`);
  await store.put('variable', variable, oldValue);
  // No stale-while-revalidate window: past the TTL a request waits for the refresh. Rate limiting of
  // no-cache off (refresh_min_interval 0), so "at once" means at once.
  const gw = await startTestGateway({
    config: { cache: { ttl_seconds: TTL_SECONDS, stale_while_revalidate_seconds: 0, refresh_min_interval_seconds: 0 }, backends: [store.backend] },
  });
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await gw.inject({ method: 'GET', url: path, headers });
    assert.equal(res.statusCode, 200, `${store.label} ${path}: ${res.body}`);
    return { body: res.json() as Record<string, unknown>, cache: res.headers['x-cache'], version: res.headers['x-secret-version'] };
  };
  // Which value an answer holds, by name: the values themselves never go into an assertion's output.
  const which = (v: unknown) => (v === oldPassword || v === oldValue ? 'old' : v === newPassword || v === newValue ? 'new' : 'neither');
  try {
    const connPath = `/v1/connections/${conn}`;
    const varPath = `/v1/variables/${variable}`;
    const first = await get(connPath);
    const firstVar = await get(varPath);
    assert.deepEqual([which(first.body.password), which(firstVar.body.value), firstVar.cache], ['old', 'old', 'miss']);
    const cachedAt = Date.now();

    for (const [kind, id] of [['connection', conn], ['variable', variable]] as const) await store.remove(kind, id);
    await store.put('connection', conn, `postgres://airflow:${newPassword}@db.internal:5432/warehouse`);
    await store.put('variable', variable, newValue);

    const seen: Record<string, unknown> = {};
    // Within the TTL a plain request is answered from the cache (the TTL is the promise; skipped on a machine too slow to be within it)...
    if (Date.now() - cachedAt < TTL_SECONDS * 1000 - 300) seen.plainWithinTtl = which((await get(connPath)).body.password);
    // ... and no-cache asks the backend, which must not confirm the old value by its version.
    const forced = await get(connPath, { 'cache-control': 'no-cache' });
    seen.noCache = `${which(forced.body.password)} (X-Cache: ${forced.cache})`;
    seen.noCacheVersionChanged = forced.version !== first.version;
    seen.maxAge0 = which((await get(connPath, { 'cache-control': 'max-age=0' })).body.password);

    // Without no-cache: the new value within one TTL of the last confirmation.
    await sleep(Math.max(0, cachedAt + TTL_SECONDS * 1000 + 100 - Date.now()));
    const later = await get(varPath);
    seen.afterOneTtl = `${which(later.body.value)} (X-Cache: ${later.cache})`;
    seen.afterOneTtlVersionChanged = later.version !== firstVar.version;

    // Unchanged: confirmed again after another TTL, with the same X-Secret-Version.
    await sleep(TTL_SECONDS * 1000 + 100);
    const again = await get(varPath);
    seen.unchanged = `${which(again.body.value)} (X-Cache: ${again.cache})`;
    seen.unchangedVersionStable = again.version === later.version;

    assert.deepEqual(seen, {
      ...('plainWithinTtl' in seen ? { plainWithinTtl: 'old' } : {}),
      noCache: 'new (X-Cache: miss)',
      noCacheVersionChanged: true,
      maxAge0: 'new',
      afterOneTtl: 'new (X-Cache: miss)',
      afterOneTtlVersionChanged: true,
      unchanged: 'new (X-Cache: revalidated)',
      unchangedVersionStable: true,
    }, store.label);
  } finally {
    await gw.close();
  }
}

describe('delete + recreate: the new value on no-cache at once, and within one TTL without it', () => {
  let bao: OpenBaoServer;
  let moto: MotoServer;
  let sm: SecretsManagerClient;
  let gcp: GcpSecretManagerServer;
  let gcpClient: SecretManagerServiceClient;
  let pg: PostgresServer;

  before(async () => {
    [bao, moto, gcp, pg] = await Promise.all([startOpenBao(), startMoto(), startGcpSecretManager(), startPostgres({ database: 'airflow' })]);
    await bao.enableKvV1('kv1');
    sm = moto.secretsManagerClient();
    gcpClient = gcp.client();
    await createAirflowSecretTables(pg);
  });

  after(async () => {
    sm?.destroy();
    await gcpClient?.close();
    await Promise.all([bao?.dispose(), moto?.dispose(), gcp?.dispose(), pg?.dispose()]);
  });

  const vaultPath = (kind: 'variable' | 'connection', id: string) => `${kind === 'variable' ? 'variables' : 'connections'}/${id}`;
  const vaultData = (kind: 'variable' | 'connection', value: string) => (kind === 'variable' ? { value } : { conn_uri: value });

  it('vault KV v2 (OpenBao): the metadata deleted, the version number starts again at 1', async () => {
    await recreateIsServed({
      label: 'vault KV v2',
      backend: { type: 'vault', url: bao.url, token: bao.rootToken },
      put: (kind, id, value) => bao.putSecret('secret', vaultPath(kind, id), vaultData(kind, value), 2),
      remove: async (kind, id) => {
        const res = await bao.request('DELETE', `secret/metadata/${vaultPath(kind, id)}`);
        assert.equal(res.status, 204);
      },
    });
  });

  it('vault KV v1 (OpenBao)', async () => {
    await recreateIsServed({
      label: 'vault KV v1',
      backend: { type: 'vault', url: bao.url, token: bao.rootToken, mount_point: 'kv1', kv_engine_version: 1 },
      put: (kind, id, value) => bao.putSecret('kv1', vaultPath(kind, id), vaultData(kind, value), 1),
      remove: async (kind, id) => {
        assert.equal((await bao.request('DELETE', `kv1/${vaultPath(kind, id)}`)).status, 204);
      },
    });
  });

  it('aws_secrets_manager (moto): deleted without recovery, created again under the same name', async () => {
    const secretId = (kind: 'variable' | 'connection', id: string) => `airflow/${kind === 'variable' ? 'variables' : 'connections'}/${id}`;
    await recreateIsServed({
      label: 'aws_secrets_manager',
      backend: awsBackendConfig(moto.url),
      put: async (kind, id, value) => {
        await sm.send(new CreateSecretCommand({ Name: secretId(kind, id), SecretString: value }));
      },
      remove: async (kind, id) => {
        await sm.send(new DeleteSecretCommand({ SecretId: secretId(kind, id), ForceDeleteWithoutRecovery: true }));
      },
    });
  });

  it('gcp_secret_manager (the Secret Manager service in test/emulators): the secret deleted, its versions start again at 1', async () => {
    const secretName = (kind: 'variable' | 'connection', id: string) => `projects/${GCP_PROJECT}/secrets/airflow-${kind === 'variable' ? 'variables' : 'connections'}-${id}`;
    await recreateIsServed({
      label: 'gcp_secret_manager',
      backend: gcpBackendConfig(gcp.port),
      put: async (kind, id, value) => {
        const [secret] = await gcpClient.createSecret({ parent: `projects/${GCP_PROJECT}`, secretId: secretName(kind, id).split('/').pop()!, secret: { replication: { automatic: {} } } });
        const [version] = await gcpClient.addSecretVersion({ parent: secret.name!, payload: { data: Buffer.from(value) } });
        assert.match(version.name!, /\/versions\/1$/);
      },
      remove: async (kind, id) => {
        await gcpClient.deleteSecret({ name: secretName(kind, id) });
      },
    });
  });

  it('airflow_metastore (PostgreSQL, Airflow\'s schema): the row deleted and inserted again', async () => {
    const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;
    await recreateIsServed({
      label: 'airflow_metastore',
      backend: { type: 'airflow_metastore', sql_alchemy_conn: pg.url },
      put: async (kind, id, value) => {
        if (kind === 'variable') {
          await pg.psql(`INSERT INTO variable (key, val, is_encrypted) VALUES (${literal(id)}, ${literal(value)}, false)`);
          return;
        }
        const u = new URL(value);
        await pg.psql(
          `INSERT INTO connection (conn_id, conn_type, host, schema, login, password, port, is_encrypted, is_extra_encrypted)
           VALUES (${literal(id)}, 'postgres', ${literal(u.hostname)}, ${literal(u.pathname.slice(1))}, ${literal(u.username)}, ${literal(u.password)}, ${Number(u.port)}, false, false)`,
        );
      },
      remove: async (kind, id) => {
        await pg.psql(kind === 'variable' ? `DELETE FROM variable WHERE key = ${literal(id)}` : `DELETE FROM connection WHERE conn_id = ${literal(id)}`);
      },
    });
  });
});
