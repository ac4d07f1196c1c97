import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { startGcpSecretManager } from '../../helpers/servers/gcp-secret-manager.ts';
import type { GcpSecretManagerServer } from '../../helpers/servers/gcp-secret-manager.ts';
import { pidAlive, portIsFree } from '../../helpers/servers/common.ts';
import { crc32c } from '../../emulators/gcp-secret-manager/crc32c.ts';

const P = 'projects/harness-project';

/** gRPC status code of a rejected client call. */
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    return (e as { code: number }).code;
  }
  assert.fail('expected the call to fail');
}

const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const ALREADY_EXISTS = 6;
const PERMISSION_DENIED = 7;
const FAILED_PRECONDITION = 9;
const UNAVAILABLE = 14;

describe('GCP Secret Manager emulator with the real @google-cloud/secret-manager client', () => {
  let gcp: GcpSecretManagerServer;
  let client: SecretManagerServiceClient;
  let startMs = 0;

  before(async () => {
    const t0 = performance.now();
    gcp = await startGcpSecretManager();
    startMs = performance.now() - t0;
    client = gcp.client();
  });
  after(async () => {
    await client.close();
    const pid = gcp.pid;
    await gcp.dispose();
    assert.equal(pidAlive(pid), false);
    console.log(`gcp secret manager emulator start: ${startMs.toFixed(0)} ms`);
  });

  test('no Google credentials or metadata server are needed', () => {
    assert.equal(process.env['METADATA_SERVER_DETECTION'], 'none');
    assert.equal(process.env['GOOGLE_APPLICATION_CREDENTIALS'], undefined);
  });

  test('createSecret, addSecretVersion, accessSecretVersion latest and by number', async () => {
    const [secret] = await client.createSecret({
      parent: P,
      secretId: 'airflow-connections-smtp_default',
      secret: { replication: { automatic: {} }, labels: { team: 'data' } },
    });
    assert.equal(secret.name, `${P}/secrets/airflow-connections-smtp_default`);
    assert.deepEqual(secret.labels, { team: 'data' });
    assert.ok(secret.createTime?.seconds);

    const [v1] = await client.addSecretVersion({ parent: secret.name, payload: { data: Buffer.from('smtp://a:b@mail:25') } });
    assert.equal(v1.name, `${secret.name}/versions/1`);
    assert.equal(v1.state, 'ENABLED');
    const data2 = Buffer.from('smtp://a:c@mail:25');
    const [v2] = await client.addSecretVersion({ parent: secret.name, payload: { data: data2, dataCrc32c: crc32c(data2) } });
    assert.equal(v2.name, `${secret.name}/versions/2`);
    assert.equal(v2.clientSpecifiedPayloadChecksum, true);

    const [latest] = await client.accessSecretVersion({ name: `${secret.name}/versions/latest` });
    assert.equal(latest.name, `${secret.name}/versions/2`);
    assert.equal(latest.payload?.data?.toString(), 'smtp://a:c@mail:25');
    assert.equal(Number(latest.payload?.dataCrc32c), crc32c(data2));
    const [first] = await client.accessSecretVersion({ name: `${secret.name}/versions/1` });
    assert.equal(first.payload?.data?.toString(), 'smtp://a:b@mail:25');

    // a wrong checksum is refused
    assert.equal(await codeOf(client.addSecretVersion({ parent: secret.name, payload: { data: data2, dataCrc32c: 12345 } })), INVALID_ARGUMENT);
    // duplicate create
    assert.equal(await codeOf(client.createSecret({ parent: P, secretId: 'airflow-connections-smtp_default', secret: {} })), ALREADY_EXISTS);
  });

  test('NOT_FOUND and INVALID_ARGUMENT like the real service', async () => {
    assert.equal(await codeOf(client.accessSecretVersion({ name: `${P}/secrets/missing/versions/latest` })), NOT_FOUND);
    assert.equal(await codeOf(client.accessSecretVersion({ name: `${P}/secrets/airflow-connections-smtp_default/versions/9` })), NOT_FOUND);
    assert.equal(await codeOf(client.getSecret({ name: `${P}/secrets/missing` })), NOT_FOUND);
    assert.equal(await codeOf(client.accessSecretVersion({ name: `${P}/secrets/bad.name/versions/latest` })), INVALID_ARGUMENT);
    assert.equal(await codeOf(client.createSecret({ parent: P, secretId: 'has.dot', secret: {} })), INVALID_ARGUMENT);
    assert.equal(await codeOf(client.accessSecretVersion({ name: `${P}/secrets/x/versions/0` })), INVALID_ARGUMENT);
  });

  test('disable / enable / destroy versions and how latest resolves', async () => {
    const [s] = await client.createSecret({ parent: P, secretId: 'airflow-variables-v', secret: {} });
    await client.addSecretVersion({ parent: s.name, payload: { data: Buffer.from('one') } });
    await client.addSecretVersion({ parent: s.name, payload: { data: Buffer.from('two') } });
    const [disabled] = await client.disableSecretVersion({ name: `${s.name}/versions/2` });
    assert.equal(disabled.state, 'DISABLED');
    // real service: latest = most recently created version, which is disabled
    assert.equal(await codeOf(client.accessSecretVersion({ name: `${s.name}/versions/latest` })), FAILED_PRECONDITION);
    const [gotLatest] = await client.getSecretVersion({ name: `${s.name}/versions/latest` });
    assert.equal(gotLatest.name, `${s.name}/versions/2`);
    // opt-in: latest = newest ENABLED version
    await gcp.setLatestResolution('newest-enabled');
    const [enabledLatest] = await client.accessSecretVersion({ name: `${s.name}/versions/latest` });
    assert.equal(enabledLatest.payload?.data?.toString(), 'one');
    await gcp.setLatestResolution('newest-created');

    const [enabled] = await client.enableSecretVersion({ name: `${s.name}/versions/2` });
    assert.equal(enabled.state, 'ENABLED');
    const [destroyed] = await client.destroySecretVersion({ name: `${s.name}/versions/1` });
    assert.equal(destroyed.state, 'DESTROYED');
    assert.ok(destroyed.destroyTime?.seconds);
    assert.equal(await codeOf(client.accessSecretVersion({ name: `${s.name}/versions/1` })), FAILED_PRECONDITION);
    assert.equal(await codeOf(client.enableSecretVersion({ name: `${s.name}/versions/1` })), FAILED_PRECONDITION);

    const [versions] = await client.listSecretVersions({ parent: s.name });
    assert.deepEqual(versions.map((v) => [v.name?.split('/').pop(), v.state]), [['2', 'ENABLED'], ['1', 'DESTROYED']]);
    const [enabledOnly] = await client.listSecretVersions({ parent: s.name, filter: 'state:ENABLED' });
    assert.equal(enabledOnly.length, 1);
  });

  test('listSecrets pages through everything, deleteSecret removes', async () => {
    for (let i = 0; i < 5; i++) await client.createSecret({ parent: P, secretId: `bulk-${i}`, secret: {} });
    const names: (string | undefined)[] = [];
    for await (const s of client.listSecretsAsync({ parent: P, pageSize: 2 })) names.push(s.name?.split('/').pop());
    for (let i = 0; i < 5; i++) assert.ok(names.includes(`bulk-${i}`));
    const [firstPage, nextReq] = await client.listSecrets({ parent: P, pageSize: 2 }, { autoPaginate: false });
    assert.equal(firstPage.length, 2);
    assert.ok(nextReq?.pageToken);
    await client.deleteSecret({ name: `${P}/secrets/bulk-0` });
    assert.equal(await codeOf(client.getSecret({ name: `${P}/secrets/bulk-0` })), NOT_FOUND);
    assert.equal(await codeOf(client.deleteSecret({ name: `${P}/secrets/bulk-0` })), NOT_FOUND);
  });

  test('test hooks: PERMISSION_DENIED injection and the call log', async () => {
    await gcp.clearCalls();
    await gcp.addFault({ method: 'AccessSecretVersion', resource: `${P}/secrets/airflow-variables-`, code: 'PERMISSION_DENIED' });
    assert.equal(await codeOf(client.accessSecretVersion({ name: `${P}/secrets/airflow-variables-v/versions/latest` })), PERMISSION_DENIED);
    // other resources are unaffected
    await client.accessSecretVersion({ name: `${P}/secrets/airflow-connections-smtp_default/versions/latest` });
    await gcp.clearFaults();
    await client.accessSecretVersion({ name: `${P}/secrets/airflow-variables-v/versions/latest` });
    const calls = await gcp.calls();
    assert.deepEqual(calls.map((c) => c.code), ['PERMISSION_DENIED', 'OK', 'OK']);
    assert.equal(calls[0]?.method, 'AccessSecretVersion');
  });

  test('stop makes calls fail UNAVAILABLE; restart on the same port keeps the data', async () => {
    const pid1 = gcp.pid;
    await gcp.stop();
    assert.equal(pidAlive(pid1), false);
    assert.equal(await portIsFree(gcp.port), true);
    assert.equal(await codeOf(client.getSecret({ name: `${P}/secrets/airflow-variables-v` })), UNAVAILABLE);

    await gcp.restart();
    assert.notEqual(gcp.pid, pid1);
    let value: string | undefined;
    const deadline = Date.now() + 5000;
    while (value === undefined) {
      try {
        const [r] = await client.accessSecretVersion({ name: `${P}/secrets/airflow-connections-smtp_default/versions/latest` });
        value = r.payload?.data?.toString();
      } catch (e) {
        if (Date.now() > deadline) throw e; // the channel reconnects after its (short) backoff
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.equal(value, 'smtp://a:c@mail:25');

    await gcp.kill();
    await gcp.restart();
    const fresh = gcp.client();
    const [again] = await fresh.getSecret({ name: `${P}/secrets/airflow-variables-v` });
    assert.equal(again.name, `${P}/secrets/airflow-variables-v`);
    await fresh.close();
  });
});
