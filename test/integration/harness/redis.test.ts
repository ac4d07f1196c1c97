import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startRedis } from '../../helpers/servers/redis.ts';
import { pidAlive, portIsFree } from '../../helpers/servers/common.ts';

test('redis-server starts, answers redis-cli, restarts on the same port, and is gone after stop', async () => {
  const t0 = performance.now();
  const redis = await startRedis();
  const startMs = performance.now() - t0;
  try {
    assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    const cli = spawnSync('redis-cli', ['-h', redis.host, '-p', String(redis.port), 'ping'], { encoding: 'utf8' });
    assert.equal(cli.stdout.trim(), 'PONG');
    assert.equal(await redis.command('SET', 'k', 'v'), '+OK\r\n');
    assert.equal(await redis.command('GET', 'k'), '$1\r\nv\r\n');

    const pid1 = redis.pid;
    await redis.stop();
    assert.equal(pidAlive(pid1), false);
    assert.equal(await portIsFree(redis.port), true);
    await assert.rejects(redis.command('PING'));

    await redis.restart();
    assert.notEqual(redis.pid, pid1);
    assert.equal(await redis.command('PING'), '+PONG\r\n');
    // no persistence: data is gone after a restart
    assert.equal(await redis.command('GET', 'k'), '$-1\r\n');
    console.log(`redis start: ${startMs.toFixed(0)} ms`);
  } finally {
    const pid = redis.pid;
    await redis.dispose();
    assert.equal(pidAlive(pid), false);
  }
});
