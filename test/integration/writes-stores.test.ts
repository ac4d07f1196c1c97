// The write API's other writers, each on its real server: AWS Secrets Manager (moto), GCP Secret
// Manager (the gRPC service in test/emulators/), and the Airflow metastore (PostgreSQL with Airflow
// 3.3.2's tables, Fernet on). For each: write, read back equal, overwrite with If-Match, stale
// If-Match 412, If-None-Match: * 412, delete, 404; and what is stored is what Airflow's reader reads.
// (`airflow connections get` on the metastore: test/e2e/airflow-writes.test.ts.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsBackendConfig, gcpBackendConfig, GCP_PROJECT } from '../helpers/backend-fixtures.ts';
import type { Connection } from '../../src/airflow/connection.ts';
import type { SecretWriter } from '../../src/backends/types.ts';
import { registerSecrets, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startGcpSecretManager, type GcpSecretManagerServer } from '../helpers/servers/gcp-secret-manager.ts';
import { startMoto, type MotoServer } from '../helpers/servers/moto.ts';
import { createAirflowSecretTables, startPostgres, type PostgresServer } from '../helpers/servers/postgres.ts';

const SCOPES = ['connections:read:*', 'variables:read:*', 'connections:write:*', 'variables:write:*'];
const PASSWORD = `st-${randomBytes(8).toString('hex')}`;
const PASSWORD_2 = `st2-${randomBytes(8).toString('hex')}`;
const VALUE = `sv-${randomBytes(8).toString('hex')}`;
const FERNET_KEY = randomBytes(32).toString('base64url') + '=';
registerSecrets([PASSWORD, PASSWORD_2, VALUE, FERNET_KEY]);

/** The round trip every writer must pass, through HTTP. */
async function roundTrip(gw: TestGateway, fields: Record<string, unknown>): Promise<void> {
  const headers = { authorization: `Bearer ${gw.token(SCOPES)}` };
  const created = await gw.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers, payload: fields });
  assert.equal(created.statusCode, 201, created.body);
  const read = await gw.inject({ method: 'GET', url: '/v1/connections/warehouse', headers });
  assert.equal(read.statusCode, 200, read.body);
  assert.deepEqual(read.json(), { conn_id: 'warehouse', description: null, ...fields }, 'read back equal, field by field');
  assert.equal(read.headers['x-secret-version'], created.json().version);

  const updated = await gw.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: { ...headers, 'if-match': created.headers.etag as string }, payload: { ...fields, password: PASSWORD_2 } });
  assert.equal(updated.statusCode, 200, updated.body);
  assert.equal((await gw.inject({ method: 'GET', url: '/v1/connections/warehouse', headers })).json().password, PASSWORD_2);
  const stale = await gw.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: { ...headers, 'if-match': created.headers.etag as string }, payload: fields });
  assert.equal(stale.statusCode, 412);
  const createOnly = await gw.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: { ...headers, 'if-none-match': '*' }, payload: fields });
  assert.equal(createOnly.statusCode, 412);

  const deleted = await gw.inject({ method: 'DELETE', url: '/v1/connections/warehouse', headers: { ...headers, 'if-match': updated.headers.etag as string } });
  assert.equal(deleted.statusCode, 200, deleted.body);
  assert.equal((await gw.inject({ method: 'GET', url: '/v1/connections/warehouse', headers })).statusCode, 404);
  const recreated = await gw.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: { ...headers, 'if-none-match': '*' }, payload: fields });
  assert.equal(recreated.statusCode, 201, `created again after the delete: ${recreated.body}`);

  const variable = await gw.inject({ method: 'PUT', url: '/v1/variables/team_flag', headers, payload: { value: VALUE } });
  assert.equal(variable.statusCode, 201, variable.body);
  assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/team_flag', headers })).json().value, VALUE);
  assert.equal((await gw.inject({ method: 'PUT', url: '/v1/variables/team_flag', headers: { ...headers, 'if-match': '"stale"' }, payload: { value: 'x' } })).statusCode, 412);
  assert.equal((await gw.inject({ method: 'DELETE', url: '/v1/variables/team_flag', headers })).statusCode, 200);
  assert.equal((await gw.inject({ method: 'GET', url: '/v1/variables/team_flag', headers })).statusCode, 404);
  assert.deepEqual(gw.contractProblems, []);
}

const FIELDS = { conn_type: 'postgres', host: 'db.internal', login: 'etl', password: PASSWORD, schema: 'warehouse', port: 5432, extra: { sslmode: 'require' } };

describe('aws_secrets_manager writer (moto)', () => {
  let moto: MotoServer;
  let sm: SecretsManagerClient;
  before(async () => {
    moto = await startMoto();
    sm = moto.secretsManagerClient();
  });
  after(async () => {
    sm?.destroy();
    await moto?.dispose();
  });

  for (const format of ['json', 'uri'] as const) {
    it(`CreateSecret / PutSecretValue under Airflow's naming, connections as ${format}`, async () => {
      const gw = await startTestGateway({ config: { backends: [awsBackendConfig(moto.url, { writable: true, connections_write_format: format, connections_prefix: `airflow/${format}` })], writes: { target: 'aws_secrets_manager' } } });
      try {
        await roundTrip(gw, FIELDS);
        const stored = await sm.send(new GetSecretValueCommand({ SecretId: `airflow/${format}/warehouse` }));
        assert.equal(stored.SecretString!.startsWith('{'), format === 'json');
        const withDescription = await gw.inject({ method: 'PUT', url: '/v1/connections/described', headers: { authorization: `Bearer ${gw.token(SCOPES)}` }, payload: { ...FIELDS, description: 'x' } });
        assert.equal(withDescription.statusCode, 400, 'a field the Airflow reader drops is refused, not lost');
        assert.equal(withDescription.json().code, 'not_representable');
      } finally {
        await gw.close();
      }
    });
  }
});

describe('gcp_secret_manager writer (the gRPC service in test/emulators/)', () => {
  let gcp: GcpSecretManagerServer;
  before(async () => {
    gcp = await startGcpSecretManager();
  });
  after(async () => {
    await gcp?.dispose();
  });

  it('CreateSecret / AddSecretVersion, read back through `latest`', async () => {
    const gw = await startTestGateway({ config: { backends: [gcpBackendConfig(gcp.port, { writable: true })], writes: { target: 'gcp_secret_manager' } } });
    try {
      await roundTrip(gw, { ...FIELDS, description: 'scratch' });
      const client = gcp.client();
      try {
        const [version] = await client.accessSecretVersion({ name: `projects/${GCP_PROJECT}/secrets/airflow-connections-warehouse/versions/latest` });
        assert.ok(String(version.payload?.data).startsWith('{'), 'stored as Airflow connection JSON');
      } finally {
        await client.close();
      }
    } finally {
      await gw.close();
    }
  });
});

describe('airflow_metastore writer (PostgreSQL, Airflow 3.3.2 tables, Fernet)', () => {
  let pg: PostgresServer;
  before(async () => {
    pg = await startPostgres({ database: 'airflow' });
    await createAirflowSecretTables(pg);
  });
  after(async () => {
    await pg?.dispose();
  });

  it('rows as Airflow writes them, password and extra Fernet-encrypted under the current key', async () => {
    const gw = await startTestGateway({
      env: { AIRFLOW__CORE__FERNET_KEY: FERNET_KEY },
      config: { backends: [{ type: 'airflow_metastore', sql_alchemy_conn: pg.url, writable: true }], writes: { target: 'airflow_metastore' } },
    });
    try {
      await roundTrip(gw, { ...FIELDS, description: 'scratch' });
      const row = (await pg.psql("SELECT is_encrypted, is_extra_encrypted, password FROM connection WHERE conn_id = 'warehouse'")).trim();
      assert.match(row, /^t\|t\|gAAAA/, 'encrypted at rest, flagged as Airflow flags it');
      assert.ok(!row.includes(PASSWORD));
      // A change made between the read and the write fails the write: the row is locked and compared.
      const metastore = gw.chain.links[0]!.backend as unknown as SecretWriter;
      const seen = await metastore.current('connection', 'warehouse');
      await pg.psql("UPDATE connection SET host = 'changed-meanwhile' WHERE conn_id = 'warehouse'");
      await assert.rejects(metastore.put('connection', 'warehouse', { kind: 'connection', connection: { ...(seen!.value as Connection), host: 'lost-update' } }, { cas: seen!.cas }), (err: Error & { code?: string }) => err.code === 'precondition_failed');
      assert.equal((await pg.psql("SELECT host FROM connection WHERE conn_id = 'warehouse'")).trim(), 'changed-meanwhile');
    } finally {
      await gw.close();
    }
  });
});
