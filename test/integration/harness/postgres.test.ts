import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startPostgres, postgresBinDir } from '../../helpers/servers/postgres.ts';
import { pidAlive, portIsFree } from '../../helpers/servers/common.ts';

test('postgres starts, psql talks to it over TCP, data survives stop+restart and a crash, gone after dispose', async () => {
  const t0 = performance.now();
  const pg = await startPostgres({ database: 'airflow' });
  const startMs = performance.now() - t0;
  try {
    assert.match(pg.url, /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/airflow$/);
    // the real psql client, by URL
    const r = spawnSync(join(postgresBinDir(), 'psql'), ['-X', '-At', pg.url, '-c', 'SELECT current_database()'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'airflow');
    await pg.psql('CREATE TABLE variable (key text primary key, val text); INSERT INTO variable VALUES (\'a\', \'1\')');

    const pid1 = pg.pid;
    await pg.stop();
    assert.equal(pidAlive(pid1), false);
    assert.equal(await portIsFree(pg.port), true);
    await assert.rejects(pg.psql('SELECT 1'));
    await pg.restart();
    assert.equal((await pg.psql('SELECT val FROM variable WHERE key = \'a\'')).trim(), '1');

    await pg.kill();
    await pg.restart();
    assert.equal((await pg.psql('SELECT count(*) FROM variable')).trim(), '1');

    const other = await pg.createDatabase('other');
    assert.match(other, /\/other$/);
    console.log(`postgres start (initdb + start + createdb): ${startMs.toFixed(0)} ms`);
  } finally {
    const pid = pg.pid;
    await pg.dispose();
    assert.equal(pidAlive(pid), false);
  }
});
