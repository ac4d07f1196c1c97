// The Redis ACL user the chart README recommends for cache.redis_url (the URL sits in a
// ConfigMap, so it carries no password and the user can do nothing but the invalidation
// channel), applied as written there to a real Redis: the gateway's invalidation bus works
// with it, and the user cannot read keys or use another channel.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisInvalidationBus } from '../../src/cache/redis-bus.ts';
import type { InvalidationScope } from '../../src/cache/invalidation.ts';
import { CacheConfigSchema } from '../../src/config/schema.ts';
import { createMetrics } from '../../src/metrics.ts';
import { startRedis, type RedisServer } from '../helpers/servers/redis.ts';
import { chartDir } from './tools.ts';

const readme = readFileSync(path.join(chartDir, 'README.md'), 'utf8');
const aclLine = readme.match(/^\s*(ACL SETUSER secrets-gateway .*)$/m)?.[1];
const channel = (CacheConfigSchema.properties.redis_channel as { default: string }).default;

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the Redis ACL user of the chart README', () => {
  let redis: RedisServer;
  let admin: Redis;
  before(async () => {
    assert.ok(aclLine, 'no "ACL SETUSER secrets-gateway ..." line in helm/secrets-gateway/README.md');
    redis = await startRedis();
    admin = new Redis(redis.url);
    assert.equal(await admin.call('ACL', ...aclLine.split(/\s+/).slice(1)), 'OK');
  });
  after(async () => {
    admin?.disconnect();
    await redis?.dispose();
  });

  const url = () => `redis://secrets-gateway@127.0.0.1:${redis.port}`;

  it('lets two replicas exchange invalidations on the default channel', async () => {
    const received: InvalidationScope[] = [];
    const logger = pino({ level: 'silent' });
    const a = new RedisInvalidationBus({ url: url(), channel, logger, metrics: createMetrics(), apply: () => undefined });
    const b = new RedisInvalidationBus({ url: url(), channel, logger, metrics: createMetrics(), apply: (scope) => received.push(scope) });
    try {
      a.start();
      b.start();
      await until('both replicas subscribed', () => a.status().state === 'ready' && b.status().state === 'ready');
      assert.equal(await a.publish({ kind: 'connection', id: 'warehouse' }), true);
      await until('the other replica applies it', () => received.length === 1);
      assert.deepEqual(received, [{ kind: 'connection', id: 'warehouse' }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses everything else: reading keys, another channel', async () => {
    await admin.set('airflow-ish-key', 'some-value');
    const user = new Redis(url());
    try {
      await assert.rejects(user.get('airflow-ish-key'), /NOPERM/);
      await assert.rejects(user.publish('another-channel', 'x'), /NOPERM/);
      await assert.rejects(user.call('KEYS', '*'), /NOPERM/);
    } finally {
      user.disconnect();
    }
  });
});
