// The chain's Airflow rules on real backends: order, kinds turned off, lookup patterns, failures.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { AIRFLOW_VECTORS } from '../helpers/airflow-vectors.ts';

const vectors = AIRFLOW_VECTORS;

describe('the backend chain', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      env: { AIRFLOW_CONN_AWS_DEFAULT: 'aws://env', AIRFLOW_CONN_MY_AWS: 'aws://env-my', AIRFLOW_VAR_ONLY_ENV: 'e', AIRFLOW_CONN_SNOWFLAKE: 'snowflake://env' },
      files: {
        'conns.yaml': 'aws_default: aws://file\nmy_aws: aws://file-my\nsnowflake: snowflake://file\n',
        'vars.yaml': 'only_env: from-file\n',
      },
      config: {
        backends: [
          // Asked only for connections whose id starts with "aws" (case-insensitive), never for variables.
          { type: 'local_filesystem', name: 'files', connections_file_path: 'conns.yaml', variables_file_path: 'vars.yaml', connections_lookup_pattern: '^aws', kinds: ['connections'] },
          { type: 'local_filesystem', name: 'files2', connections_file_path: 'conns.yaml', connections_lookup_pattern: 'snowflake$' },
          { type: 'environment' },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    assert.deepEqual(gw.contractProblems, []);
  });
  const source = async (url: string) => (await gw.inject({ method: 'GET', url })).headers['x-secret-source'];

  it('asks a backend only for ids its lookup pattern matches (start-anchored, case-insensitive)', async () => {
    assert.equal(await source('/v1/connections/aws_default'), 'files');
    // The file has no "AWS_DEFAULT" (ids are case-sensitive there), but the pattern let it be asked; the environment upper-cases.
    assert.equal(await source('/v1/connections/AWS_DEFAULT'), 'environment');
    assert.equal(await source('/v1/connections/my_aws'), 'environment');
    assert.equal(await source('/v1/connections/snowflake'), 'files2');
  });

  it('never asks a backend for a kind that is turned off', async () => {
    assert.equal(await source('/v1/variables/only_env'), 'environment');
  });

  it('follows the environment naming vectors', async () => {
    for (const v of vectors.naming.filter((n: { backend: string }) => n.backend === 'EnvironmentVariablesBackend')) {
      const other = await startTestGateway({ env: { [v.name]: 'http://named' }, config: { backends: [{ type: 'environment' }] } });
      try {
        const res = await other.inject({ method: 'GET', url: `/v1/connections/${v.id}` });
        assert.equal(res.statusCode, 200, v.source);
        assert.equal(res.json().host, 'named');
      } finally {
        await other.close();
      }
    }
  });

  it('upper-cases only: ids that differ in case share one environment variable, as in Airflow', async () => {
    const res = await gw.inject({ method: 'GET', url: '/v1/variables/ONLY_env' });
    assert.equal(res.json().value, 'e');
  });
});
