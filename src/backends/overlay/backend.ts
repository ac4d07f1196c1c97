// The overlay backend: ephemeral overrides of connections and variables, shared by every replica.
// Entries live in Redis (which the gateway already uses for invalidations), encrypted at rest with
// AES-256-GCM under a configured key (the id and kind are bound in as associated data, so an entry
// copied to another key does not decrypt), and each one expires on its own (Redis PX). Placed first
// in the chain, an override shadows the rest for its lifetime, then vanishes; GET shows the expiry
// (X-Secret-Expires). A connection is stored as Airflow's Connection JSON, read back with
// deserializeConnection, as every other backend's values are.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { connectionToJson, type Connection } from '../../airflow/connection.ts';
import { ConfigError } from '../../config/errors.ts';
import { isoNow } from '../../support/iso-time.ts';
import type { BackendContext, CreateBackend } from '../descriptor.ts';
import { connectionFrom } from '../values.ts';
import { BackendError, type BackendStatus, type Current, type Found, type SecretKind, type SecretsBackend, type SecretWriter, type VariableValue, type WriteValue } from '../types.ts';

const FORMAT = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

// Check-and-set in one step on the Redis server: ARGV[1] is "absent" (create only) or "equal" (the
// entry must still be ARGV[2], the stored text current() read).
const PUT_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == 'absent' then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1`;
const DELETE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if ARGV[1] == 'equal' and cur ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

type OverlayRedis = Redis & {
  overlayPut(key: string, mode: string, expected: string, value: string, ttlMs: string): Promise<number>;
  overlayDelete(key: string, mode: string, expected: string): Promise<number>;
};

export class OverlayBackend implements SecretsBackend, SecretWriter {
  readonly type = 'overlay';
  readonly name: string;
  readonly maxTtlSeconds: number;
  readonly defaultTtlSeconds: number;
  private readonly redis: OverlayRedis;
  private readonly prefix: string;
  private readonly key: Buffer;
  private lastError: { code: string; message: string; at: string } | undefined;
  private lastSuccess: string | undefined;

  constructor(name: string, options: Record<string, any>, ctx: BackendContext) {
    this.name = name;
    this.prefix = options.key_prefix;
    this.maxTtlSeconds = options.max_ttl_seconds;
    this.defaultTtlSeconds = Math.min(options.default_ttl_seconds, options.max_ttl_seconds);
    this.key = encryptionKey(name, options, ctx);
    this.redis = new Redis(options.redis_url, {
      lazyConnect: true,
      // A write or a lookup fails at once while Redis is away (the chain goes on to the next backend).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.timeout_seconds * 1000,
      connectTimeout: 2000,
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
      connectionName: 'secrets-gateway-overlay',
    }) as OverlayRedis;
    this.redis.defineCommand('overlayPut', { numberOfKeys: 1, lua: PUT_SCRIPT });
    this.redis.defineCommand('overlayDelete', { numberOfKeys: 1, lua: DELETE_SCRIPT });
    this.redis.on('error', (err: NodeJS.ErrnoException) => {
      this.lastError = { code: 'unreachable', message: `${this.name}: Redis is not reachable (${err.code ?? err.name})`, at: isoNow() };
    });
    this.redis.on('ready', () => {
      this.lastError = undefined;
    });
  }

  serves(kind: SecretKind): boolean {
    return kind !== 'config';
  }

  async init(): Promise<void> {
    // Never waits for Redis: the gateway starts without it, and status() says so.
    this.redis.connect().catch(() => undefined);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, 2000);
      this.redis.once('ready', done);
    });
  }

  status(): BackendStatus {
    if (this.redis.status === 'ready') return { state: 'ready', ...(this.lastSuccess ? { last_success: this.lastSuccess } : {}) };
    return { state: 'degraded', error: this.lastError ?? { code: 'unreachable', message: `${this.name}: connecting to Redis` } };
  }

  async getConnection(connId: string): Promise<Found<Connection> | null> {
    return this.foundOf('connection', connId, await this.readRaw('connection', connId)) as Found<Connection> | null;
  }

  async getVariable(key: string): Promise<Found<VariableValue> | null> {
    return this.foundOf('variable', key, await this.readRaw('variable', key)) as Found<VariableValue> | null;
  }

  async getConfig(): Promise<Found<VariableValue> | null> {
    return null;
  }

  async current(kind: 'connection' | 'variable', id: string): Promise<Current | null> {
    const raw = await this.readRaw(kind, id);
    const found = this.foundOf(kind, id, raw);
    // cas is the stored text itself: the put and delete scripts compare it in Redis.
    return found && raw ? { value: found.value, cas: raw.stored, ...(found.expires ? { expires: found.expires } : {}) } : null;
  }

  async put(kind: 'connection' | 'variable', id: string, value: WriteValue, options: { cas: unknown; ttlSeconds?: number }): Promise<void> {
    const text = value.kind === 'connection' ? connectionToJson(value.connection) : value.value;
    const ttlMs = Math.round((options.ttlSeconds ?? this.defaultTtlSeconds) * 1000);
    const stored = this.encrypt(kind, id, text);
    const mode = options.cas === null ? 'absent' : 'equal';
    const ok = await this.call(() => this.redis.overlayPut(this.redisKey(kind, id), mode, typeof options.cas === 'string' ? options.cas : '', stored, String(ttlMs)));
    if (ok !== 1) throw new BackendError('precondition_failed', `${this.name}: the entry changed during the write`);
  }

  async delete(kind: 'connection' | 'variable', id: string, options: { cas: unknown }): Promise<boolean> {
    const mode = typeof options.cas === 'string' ? 'equal' : 'any';
    const result = await this.call(() => this.redis.overlayDelete(this.redisKey(kind, id), mode, typeof options.cas === 'string' ? options.cas : ''));
    if (result === 0) throw new BackendError('precondition_failed', `${this.name}: the entry changed during the delete`);
    return result === 1;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private redisKey(kind: SecretKind, id: string): string {
    return `${this.prefix}${kind}:${id}`;
  }

  /** What the reader answers for a stored entry: a connection through Airflow's get_connection, a variable as its text. */
  private foundOf(kind: SecretKind, id: string, raw: { stored: string; expires: string } | null): Found<Connection | VariableValue> | null {
    if (!raw) return null;
    const text = this.decrypt(kind, id, raw.stored);
    return kind === 'connection' ? connectionFrom(this.name, id, { value: text, expires: raw.expires }) : { value: text, expires: raw.expires };
  }

  private async readRaw(kind: SecretKind, id: string): Promise<{ stored: string; expires: string } | null> {
    const key = this.redisKey(kind, id);
    const results = await this.call(() => this.redis.multi().get(key).pttl(key).exec());
    const [[getErr, stored], [ttlErr, pttl]] = (results ?? [[null, null], [null, -2]]) as Array<[Error | null, unknown]> as [[Error | null, unknown], [Error | null, unknown]];
    if (getErr || ttlErr) throw new BackendError('backend_error', `${this.name}: Redis failed a read`);
    if (typeof stored !== 'string' || typeof pttl !== 'number' || pttl < 0) return null;
    return { stored, expires: new Date(Date.now() + pttl).toISOString() };
  }

  /** One Redis call; a failure is a BackendError whose message holds no value. */
  private async call<R>(fn: () => Promise<R>): Promise<R> {
    try {
      const result = await fn();
      this.lastSuccess = isoNow();
      return result;
    } catch (err) {
      if (err instanceof BackendError) throw err;
      const code = (err as Error).name === 'MaxRetriesPerRequestError' || this.redis.status !== 'ready' ? 'unreachable' : 'backend_error';
      throw new BackendError(code, `${this.name}: Redis ${code === 'unreachable' ? 'is not reachable' : 'failed a command'} (${(err as Error).name})`);
    }
  }

  private encrypt(kind: SecretKind, id: string, text: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${kind}\u0000${id}`));
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return FORMAT + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  private decrypt(kind: SecretKind, id: string, stored: string): string {
    try {
      if (!stored.startsWith(FORMAT)) throw new Error('format');
      const raw = Buffer.from(stored.slice(FORMAT.length), 'base64');
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`${kind}\u0000${id}`));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new BackendError('decrypt_failed', `${this.name}: an entry does not decrypt with the configured key`);
    }
  }
}

/** The 32-byte AES key, base64 (or base64url), from key_file or the key_env variable. */
function encryptionKey(name: string, o: Record<string, any>, ctx: BackendContext): Buffer {
  let text: string | undefined;
  if (o.key_file) {
    try {
      text = readFileSync(path.resolve(ctx.baseDir, o.key_file), 'utf8');
    } catch (err) {
      throw new ConfigError(`backend "${name}".key_file`, `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else {
    text = ctx.env[o.key_env];
  }
  const key = Buffer.from((text ?? '').trim(), 'base64');
  if (key.length !== 32) {
    throw new ConfigError(`backend "${name}".${o.key_file ? 'key_file' : 'key_env'}`, `needs a 32-byte key in base64 (openssl rand -base64 32)${o.key_file ? '' : ` in $${o.key_env}`}`);
  }
  return key;
}

export const createBackend: CreateBackend = (options, ctx) => new OverlayBackend(options.name ?? 'overlay', options, ctx);
