import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchedCounter, batchedHistogram, createMetrics } from '../../src/metrics.ts';

const sample = (text: string, line: string): number => Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('batched metric children (the cached-read path)', () => {
  it('every update is in the next scrape, whether or not a batch filled', async () => {
    const metrics = createMetrics();
    const hits = batchedCounter(metrics.cacheHits, { kind: 'connection', state: 'fresh' });
    const age = batchedHistogram(metrics.servedAge, { kind: 'connection' });
    for (let i = 0; i < 3; i++) hits.inc();
    age.observe(0.5);
    let text = await metrics.registry.metrics();
    assert.equal(sample(text, 'secrets_gateway_cache_hits_total{kind="connection",state="fresh"}'), 3);
    assert.equal(sample(text, 'secrets_gateway_served_age_seconds_count{kind="connection"}'), 1);
    // Past a full batch (1,024) and a bit: nothing lost, nothing counted twice.
    for (let i = 0; i < 2500; i++) {
      hits.inc();
      age.observe(i % 2 === 0 ? 0 : 7);
    }
    metrics.cacheHits.inc({ kind: 'connection', state: 'fresh' }); // an unbatched update of the same series adds up
    text = await metrics.registry.metrics();
    assert.equal(sample(text, 'secrets_gateway_cache_hits_total{kind="connection",state="fresh"}'), 2504);
    assert.equal(sample(text, 'secrets_gateway_served_age_seconds_count{kind="connection"}'), 2501);
    assert.equal(sample(text, 'secrets_gateway_served_age_seconds_sum{kind="connection"}'), 0.5 + 1250 * 7);
    assert.equal(sample(text, 'secrets_gateway_served_age_seconds_bucket{le="5",kind="connection"}'), 1251);
  });
});
