// getVersion(), the cache's cheap revalidation: AWS (DescribeSecret's AWSCURRENT) and
// GCP (GetSecretVersion of `latest`) agree with the version a lookup returned, and
// move when the secret changes. (Vault KV v2 is covered in backend-faults.test.ts.)
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { awsFixture, gcpFixture, GCP_PROJECT } from '../helpers/backend-fixtures.ts';

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

it('gcp_secret_manager: Found.version is the version name, getVersion resolves latest', async () => {
  const f = await gcpFixture();
  const gw = await f.gateway();
  const client = f.gcp.client();
  try {
    await f.put('variable', 'rotating', { variable: 'one' });
    const backend = gw.chain.links[0]!.backend;
    const first = await backend.getVariable('rotating');
    assert.match(first!.version!, /\/versions\/1$/);
    assert.equal(await backend.getVersion!('variable', 'rotating'), first!.version);
    await client.addSecretVersion({ parent: `projects/${GCP_PROJECT}/secrets/airflow-variables-rotating`, payload: { data: Buffer.from('two') } });
    assert.match((await backend.getVersion!('variable', 'rotating'))!, /\/versions\/2$/);
    assert.equal((await backend.getVariable('rotating'))!.value, 'two');
    assert.equal(await backend.getVersion!('variable', 'never-stored'), null);
  } finally {
    await client.close();
    await gw.close();
    await f.dispose();
  }
});
