// The cache: and metrics: configuration keys: defaults, bounds, and the per-backend TTL.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { backendTtls } from '../../../src/cache/secret-cache.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { tempDir } from '../../helpers/gateway.ts';

const load = (doc: unknown) => {
  const file = path.join(tempDir(), 'config.yaml');
  writeFileSync(file, stringify(doc));
  return loadConfig({ configPath: file, env: {} }).config;
};

describe('cache and metrics configuration', () => {
  it('has the documented defaults', () => {
    const config = load({ backends: [{ type: 'environment' }] });
    assert.deepEqual(config.cache, {
      enabled: true,
      ttl_seconds: 300,
      negative_ttl_seconds: 30,
      stale_while_revalidate_seconds: 60,
      max_stale_seconds: 900,
      refresh_min_interval_seconds: 1,
      max_entries: 10000,
      max_bytes: 67108864,
      redis_channel: 'secrets-gateway:cache-invalidations',
    });
    assert.deepEqual(config.metrics, { enabled: true, path: '/metrics' });
  });

  it('takes a per-backend TTL and refuses bad values with their key path', () => {
    const config = load({ backends: [{ type: 'environment', cache_ttl_seconds: 0 }, { type: 'environment', name: 'env2' }] });
    assert.deepEqual([...backendTtls(config.backends)], [['environment', 0]]);
    const cases: Array<[unknown, RegExp]> = [
      [{ cache: { ttl_seconds: -1 } }, /cache\.ttl_seconds/],
      [{ cache: { redis_url: 'http://127.0.0.1:6379' } }, /cache\.redis_url/],
      [{ cache: { version_key: 'short' } }, /cache\.version_key/],
      [{ cache: { max_entries: 0 } }, /cache\.max_entries/],
      [{ cache: { surprise: 1 } }, /cache\.surprise: unknown key/],
      [{ metrics: { path: 'metrics' } }, /metrics\.path/],
      [{ backends: [{ type: 'environment', cache_ttl_seconds: 'long' }] }, /backends\[0\]\.cache_ttl_seconds/],
    ];
    for (const [doc, message] of cases) assert.throws(() => load(doc), message, JSON.stringify(doc));
  });
});
