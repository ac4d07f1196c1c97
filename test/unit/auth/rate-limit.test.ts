import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SubjectRateLimiter } from '../../../src/auth/rate-limit.ts';

describe('per-subject rate limit (fixed window)', () => {
  it('allows max requests per window per subject, then refuses until the window ends', () => {
    let now = 1_000;
    const limiter = new SubjectRateLimiter(3, 2_000, () => now);
    const takes = [1, 2, 3, 4].map(() => limiter.take('iss|a'));
    assert.deepEqual(takes.map((t) => [t.allowed, t.remaining]), [[true, 2], [true, 1], [true, 0], [false, 0]]);
    assert.equal(takes[3]!.resetSeconds, 2);
    assert.equal(limiter.take('iss|b').allowed, true, 'another subject has its own window');
    now += 1_500;
    assert.deepEqual([limiter.take('iss|a').allowed, limiter.take('iss|a').resetSeconds], [false, 1]);
    now += 500;
    assert.deepEqual([limiter.take('iss|a').allowed, limiter.take('iss|a').remaining], [true, 1], 'a new window starts when the old one ends');
  });

  it('forgets the windows of subjects that went quiet', () => {
    let now = 0;
    const limiter = new SubjectRateLimiter(1, 1_000, () => now);
    for (let i = 0; i < 100; i++) limiter.take(`iss|worker-${i}`);
    now += 1_000;
    limiter.take('iss|other');
    assert.equal((limiter as unknown as { windows: Map<string, unknown> }).windows.size, 1);
  });
});
