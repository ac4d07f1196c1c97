import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-secrets-manager';
import { startMoto } from '../../helpers/servers/moto.ts';
import { pidAlive, portIsFree } from '../../helpers/servers/common.ts';

test('moto: the real AWS SDK creates, reads, describes and batch-reads secrets; restart keeps state', async () => {
  assert.equal(process.env['AWS_EC2_METADATA_DISABLED'], 'true');
  const t0 = performance.now();
  const moto = await startMoto();
  const startMs = performance.now() - t0;
  const sm = moto.secretsManagerClient();
  try {
    const created = await sm.send(
      new CreateSecretCommand({ Name: 'airflow/connections/smtp_default', SecretString: 'smtp://user:pass@mail:25' }),
    );
    assert.match(created.ARN ?? '', /^arn:aws:secretsmanager:us-east-1:\d{12}:secret:airflow\/connections\/smtp_default-/);
    await sm.send(new CreateSecretCommand({ Name: 'airflow/variables/hello', SecretString: 'world' }));

    const got = await sm.send(new GetSecretValueCommand({ SecretId: 'airflow/connections/smtp_default' }));
    assert.equal(got.SecretString, 'smtp://user:pass@mail:25');
    const desc = await sm.send(new DescribeSecretCommand({ SecretId: 'airflow/variables/hello' }));
    assert.equal(desc.Name, 'airflow/variables/hello');

    const batch = await sm.send(
      new BatchGetSecretValueCommand({ SecretIdList: ['airflow/connections/smtp_default', 'airflow/variables/hello', 'airflow/variables/nope'] }),
    );
    const byName = new Map((batch.SecretValues ?? []).map((v) => [v.Name, v.SecretString]));
    assert.equal(byName.get('airflow/variables/hello'), 'world');
    assert.equal(byName.get('airflow/connections/smtp_default'), 'smtp://user:pass@mail:25');
    assert.equal((batch.Errors ?? []).some((e) => e.SecretId === 'airflow/variables/nope'), true);

    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'airflow/variables/missing' })), ResourceNotFoundException);

    // stop: the SDK gets a connection error; restart on the same port restores the state
    const pid1 = moto.pid;
    await moto.stop();
    assert.equal(pidAlive(pid1), false);
    assert.equal(await portIsFree(moto.port), true);
    const failing = moto.secretsManagerClient({ maxAttempts: 1 });
    await assert.rejects(failing.send(new GetSecretValueCommand({ SecretId: 'airflow/variables/hello' })), /ECONNREFUSED/);
    failing.destroy();

    await moto.restart();
    const again = await sm.send(new GetSecretValueCommand({ SecretId: 'airflow/variables/hello' }));
    assert.equal(again.SecretString, 'world');

    await moto.restart({ keepState: false });
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'airflow/variables/hello' })), ResourceNotFoundException);
    console.log(`moto start: ${startMs.toFixed(0)} ms`);
  } finally {
    sm.destroy();
    const pid = moto.pid;
    await moto.dispose();
    assert.equal(pidAlive(pid), false);
  }
});
