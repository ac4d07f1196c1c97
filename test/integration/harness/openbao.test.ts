import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenBao } from '../../helpers/servers/openbao.ts';
import { startTokenReviewServer } from '../../helpers/servers/kubernetes-tokenreview.ts';
import { pidAlive, portIsFree } from '../../helpers/servers/common.ts';

test('openbao dev server: KV v1/v2, approle/userpass/kubernetes login, restart on the same port', async () => {
  const t0 = performance.now();
  const bao = await startOpenBao();
  const startMs = performance.now() - t0;
  const tr = await startTokenReviewServer();
  try {
    assert.match(bao.url, /^http:\/\/127\.0\.0\.1:\d+$/);

    // KV v1 and v2 through the raw HTTP API (as a real client would call it)
    await bao.enableKvV1('kv1');
    await bao.enableKvV2('kv2');
    await bao.putSecret('kv1', 'airflow/connections/pg', { conn_uri: 'postgresql://u:p@h/db' }, 1);
    await bao.putSecret('kv2', 'airflow/variables/hello', { value: 'world' }, 2);
    const v1 = await fetch(`${bao.url}/v1/kv1/airflow/connections/pg`, { headers: { 'X-Vault-Token': bao.rootToken } });
    assert.equal(v1.status, 200);
    assert.deepEqual(((await v1.json()) as { data: unknown }).data, { conn_uri: 'postgresql://u:p@h/db' });
    const v2 = await fetch(`${bao.url}/v1/kv2/data/airflow/variables/hello`, { headers: { 'X-Vault-Token': bao.rootToken } });
    assert.equal(v2.status, 200);
    const v2body = (await v2.json()) as { data: { data: unknown; metadata: { version: number } } };
    assert.deepEqual(v2body.data.data, { value: 'world' });
    assert.equal(v2body.data.metadata.version, 1);
    assert.equal(await bao.getSecret('kv2', 'airflow/variables/missing', 2), null);

    // approle
    await bao.writeReadPolicy('airflow-read', ['kv1', 'kv2']);
    await bao.enableApprole();
    const role = await bao.createApproleRole('airflow', ['airflow-read']);
    const token = await bao.loginApprole(role.roleId, role.secretId);
    const viaRole = await bao.request('GET', 'kv2/data/airflow/variables/hello', undefined, token);
    assert.equal(viaRole.status, 200);
    const denied = await bao.request('GET', 'secret/data/anything', undefined, token);
    assert.equal(denied.status, 403);
    await assert.rejects(bao.loginApprole(role.roleId, 'wrong-secret-id'), /HTTP 400/);

    // userpass
    await bao.enableUserpass();
    await bao.createUser('alice', 's3cret', ['airflow-read']);
    const upToken = await bao.loginUserpass('alice', 's3cret');
    assert.equal((await bao.request('GET', 'kv1/airflow/connections/pg', undefined, upToken)).status, 200);

    // kubernetes auth against the harness TokenReview server over plain http
    await bao.enableKubernetes(tr);
    await bao.createKubernetesRole('airflow', { names: ['airflow-worker'], namespaces: ['airflow'] }, ['airflow-read']);
    const sa = tr.issueToken('airflow', 'airflow-worker');
    const k8sToken = await bao.loginKubernetes('airflow', sa);
    assert.equal((await bao.request('GET', 'kv1/airflow/connections/pg', undefined, k8sToken)).status, 200);
    assert.ok(tr.reviews >= 1);
    tr.revoke(sa.jwt);
    await assert.rejects(bao.loginKubernetes('airflow', sa), /HTTP 403/);

    // stop: port free, requests fail; restart on the same port replays the setup
    const pid1 = bao.pid;
    await bao.stop();
    assert.equal(pidAlive(pid1), false);
    assert.equal(await portIsFree(bao.port), true);
    await assert.rejects(fetch(`${bao.url}/v1/sys/health`));
    await bao.restart();
    assert.deepEqual(await bao.getSecret('kv1', 'airflow/connections/pg', 1), { conn_uri: 'postgresql://u:p@h/db' });
    assert.deepEqual(await bao.getSecret('kv2', 'airflow/variables/hello', 2), { value: 'world' });
    const token2 = await bao.loginApprole(role.roleId, role.secretId);
    assert.equal((await bao.request('GET', 'kv2/data/airflow/variables/hello', undefined, token2)).status, 200);
    // a token from before the restart is gone (dev mode is in-memory)
    assert.equal((await bao.request('GET', 'kv2/data/airflow/variables/hello', undefined, token)).status, 403);
    console.log(`openbao start: ${startMs.toFixed(0)} ms`);
  } finally {
    const pid = bao.pid;
    await bao.dispose();
    await tr.stop();
    assert.equal(pidAlive(pid), false);
  }
});

test('openbao audit log: every request OpenBao served is counted, by path and token name, after a restart too', async () => {
  const bao = await startOpenBao({ auditLog: true });
  try {
    await bao.putSecret('secret', 'counted/one', { value: 'x' }, 2);
    await bao.writeReadPolicy('counted-read', ['secret']);
    const created = await bao.request('POST', 'auth/token/create', { policies: ['counted-read'], display_name: 'counter' });
    const token = (created.body as { auth: { client_token: string } }).auth.client_token;
    for (let i = 0; i < 3; i++) assert.equal((await bao.request('GET', 'secret/data/counted/one', undefined, token)).status, 200);
    assert.equal((await bao.request('GET', 'secret/data/counted/missing', undefined, token)).status, 404);
    const mine = () => bao.auditedRequests().filter((r) => r.displayName === 'token-counter');
    assert.deepEqual(
      mine().map((r) => `${r.operation} ${r.path}`),
      ['read secret/data/counted/one', 'read secret/data/counted/one', 'read secret/data/counted/one', 'read secret/data/counted/missing'],
    );
    assert.ok(mine().every((r) => r.policies.includes('counted-read')));
    // The audit log holds no secret value: OpenBao HMACs response data.
    assert.ok(!(await import('node:fs')).readFileSync(bao.auditLogFile!, 'utf8').includes('"value":"x"'));
    const before = bao.auditedRequests().length;
    await bao.restart();
    await bao.request('GET', 'secret/data/counted/one');
    assert.ok(bao.auditedRequests().some((r, i) => i >= before && r.path === 'secret/data/counted/one'), 'the audit device is declared again after a restart');
  } finally {
    await bao.dispose();
  }
});
