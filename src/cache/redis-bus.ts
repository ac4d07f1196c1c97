// Invalidations across replicas over Redis pub/sub. Every replica publishes the
// invalidations it is asked for and applies those the others publish (its own
// come back to it too, and are ignored by origin). A message carries the scope
// (kind, id or glob) and the origin replica's random id: never a value.
// Redis is an accelerator, not a dependency: while it is away the replica keeps
// serving and its entries expire on TTL alone; it reports `degraded` (in
// /readyz and secrets_gateway_invalidation_pubsub_up) and subscribes again as
// soon as Redis is back.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../metrics.ts';
import { reportInvalidationBus } from '../metrics.ts';
import { parseScope, type InvalidationScope } from './invalidation.ts';

export interface InvalidationBusStatus {
  state: 'ready' | 'degraded';
  error?: { code: string; message: string };
}

interface Message {
  v: 1;
  origin: string;
  scope: InvalidationScope;
}

// Reconnect quickly and keep trying: a replica should notice Redis is back within a second.
const retryStrategy = (times: number): number => Math.min(50 * times, 1000);

export class RedisInvalidationBus {
  readonly origin = randomUUID();
  private readonly channel: string;
  private readonly subscriber: Redis;
  private readonly publisher: Redis;
  private readonly logger: Logger;
  private readonly metrics: GatewayMetrics;
  private subscribed = false;
  private lastError: string | undefined;
  private closed = false;

  constructor(options: { url: string; channel: string; logger: Logger; metrics: GatewayMetrics; apply: (scope: InvalidationScope) => void }) {
    this.channel = options.channel;
    this.logger = options.logger;
    this.metrics = options.metrics;
    reportInvalidationBus(this.metrics);
    this.metrics.invalidationBusUp.set(0);
    const common = { lazyConnect: true, retryStrategy, connectTimeout: 2000, connectionName: 'secrets-gateway' };
    // The subscriber re-subscribes itself on every (re)connection, so "subscribed" is known exactly.
    this.subscriber = new Redis(options.url, { ...common, autoResubscribe: false, maxRetriesPerRequest: null });
    // Publishing never queues while Redis is away: the invalidation is applied here and reported unpublished.
    this.publisher = new Redis(options.url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1 });

    this.subscriber.on('ready', () => void this.subscribe());
    this.subscriber.on('close', () => this.down('connection closed'));
    this.subscriber.on('error', (err: NodeJS.ErrnoException) => this.down(err.code ?? err.name));
    this.publisher.on('error', () => {
      // Reported through the subscriber's state; the publisher reconnects on its own.
    });
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      const message = parseMessage(raw);
      if (!message) {
        this.logger.warn({ channel }, 'ignored a malformed invalidation message');
        return;
      }
      if (message.origin !== this.origin) options.apply(message.scope);
    });
  }

  /** Starts connecting; never waits for Redis, so a replica starts (degraded) without it. */
  start(): void {
    this.subscriber.connect().catch(() => undefined);
    this.publisher.connect().catch(() => undefined);
  }

  /** Sends an invalidation to the other replicas; false when Redis is not reachable now. */
  async publish(scope: InvalidationScope): Promise<boolean> {
    const message: Message = { v: 1, origin: this.origin, scope };
    try {
      await this.publisher.publish(this.channel, JSON.stringify(message));
      return true;
    } catch (err) {
      this.logger.warn({ err_name: (err as Error).name }, 'could not publish an invalidation; other replicas rely on TTL');
      return false;
    }
  }

  status(): InvalidationBusStatus {
    return this.subscribed ? { state: 'ready' } : { state: 'degraded', error: { code: 'redis_unavailable', message: `not subscribed to Redis (${this.lastError ?? 'connecting'}); cache entries expire on TTL alone` } };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
      this.subscribed = true;
      this.lastError = undefined;
      this.metrics.invalidationBusUp.set(1);
      this.logger.info('subscribed to cache invalidations');
    } catch (err) {
      this.down((err as Error).name);
    }
  }

  private down(reason: string): void {
    if (this.closed) return;
    if (this.subscribed) this.logger.warn({ reason }, 'lost the cache invalidation channel; serving on TTL alone until Redis returns');
    this.subscribed = false;
    this.lastError = reason;
    this.metrics.invalidationBusUp.set(0);
  }
}

function parseMessage(raw: string): Message | undefined {
  try {
    const m = JSON.parse(raw) as Partial<Message>;
    const scope = parseScope(m.scope);
    return m.v === 1 && typeof m.origin === 'string' && scope ? { v: 1, origin: m.origin, scope } : undefined;
  } catch {
    return undefined;
  }
}
