// The one typed configuration schema, with its defaults. TypeBox gives the JSON
// Schema (validated by Ajv) and the TypeScript type from one definition.
// Backend options are validated per backend type by their own schemas
// (src/backends/<name>/options.ts), so this file knows only what every backend shares.
// Only the generators (scripts/config-validators.ts, scripts/chart-schema.ts) and the
// tests load this module: the gateway validates with the generated validators and takes
// these types with `import type`, so a start never loads TypeBox (its cost: see
// bench/optimization-log.md, "Figures quoted in code comments").
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { AuditConfigSchema, type AuditConfig } from '../audit/config.ts';
import { AuthConfigSchema, type AuthConfig } from '../auth/config-schema.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const TLS_CLIENT_AUTH = ['none', 'request', 'require'] as const;

export const ServerTlsConfigSchema = Type.Object(
  {
    cert_file: Type.String({ minLength: 1, description: 'PEM certificate chain, the server certificate first. Re-read when it changes (no restart).' }),
    key_file: Type.String({ minLength: 1, description: "PEM private key (unencrypted) of cert_file's first certificate. Re-read with it." }),
    ca_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA certificates that client certificates must chain to; needed when client_auth is request or require.' })),
    client_auth: Type.Union(TLS_CLIENT_AUTH.map((v) => Type.Literal(v)), {
      default: 'none',
      description: 'none: no client certificate asked; request: asked, and one that does not verify against ca_file closes the connection; require: the handshake fails without a verified one.',
    }),
    min_version: Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], { default: 'TLSv1.2', description: 'Oldest protocol accepted; TLS 1.3 is preferred whenever the client offers it.' }),
    certificate_only: Type.Boolean({
      default: false,
      description: 'A verified client certificate without a bearer token is a caller too: its grants come only from auth.policies that match its cert_* claims.',
    }),
  },
  { additionalProperties: false },
);

export const ServerConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address to bind. Without an `auth` section, only loopback is allowed.' }),
    port: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: '0 picks any free port; the bound address is logged.' }),
    body_limit_bytes: Type.Integer({ default: 65536, minimum: 1024, maximum: 10485760 }),
    drain_seconds: Type.Number({
      default: 5,
      minimum: 0,
      maximum: 300,
      description: 'After SIGTERM, how long the gateway keeps serving with /readyz 503 and `Connection: close` on every response, so load balancers stop sending before it stops listening.',
    }),
    shutdown_timeout_seconds: Type.Number({ default: 10, minimum: 0, maximum: 300, description: 'After the drain, how long the gateway waits for in-flight requests before it exits 1.' }),
    request_timeout_seconds: Type.Number({ default: 30, exclusiveMinimum: 0, maximum: 300, description: 'A request whose headers and body have not all arrived this long after it began is answered 408 and its connection closed.' }),
    headers_timeout_seconds: Type.Number({ default: 10, exclusiveMinimum: 0, maximum: 300, description: 'A request whose headers have not all arrived this long after it began is answered 408 (at most request_timeout_seconds).' }),
    keep_alive_timeout_seconds: Type.Number({ default: 65, exclusiveMinimum: 0, maximum: 3600, description: 'How long an idle keep-alive connection stays open; above the idle timeout of the proxy in front (often 60 s), so the proxy closes first.' }),
    connection_timeout_seconds: Type.Number({ default: 120, minimum: 0, maximum: 3600, description: 'A connection with no traffic at all for this long is closed (0: never).' }),
    tls: Type.Optional(ServerTlsConfigSchema),
  },
  { additionalProperties: false, default: {} },
);

export const LogConfigSchema = Type.Object(
  {
    level: Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: 'info' }),
  },
  { additionalProperties: false, default: {} },
);

export const ConnectionChecksSchema = Type.Object(
  {
    timeout_seconds: Type.Number({ default: 3, exclusiveMinimum: 0, maximum: 60, description: 'Per stage (DNS, TCP, handshake) of a connection test.' }),
    interval_seconds: Type.Number({ default: 60, minimum: 1, maximum: 86400, description: 'How often critical_connections are checked.' }),
    on_failure: Type.Union([Type.Literal('degrade'), Type.Literal('fail')], {
      default: 'degrade',
      description: 'While a critical connection fails, /readyz says degraded (200) or unavailable (503).',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const CacheConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'false: every request goes to the backends.' }),
    ttl_seconds: Type.Number({ default: 300, minimum: 0, maximum: 86400, description: 'How long a found answer is fresh; a backend entry may override it with cache_ttl_seconds.' }),
    negative_ttl_seconds: Type.Number({ default: 30, minimum: 0, maximum: 86400, description: 'How long a not-found answer is fresh.' }),
    stale_while_revalidate_seconds: Type.Number({ default: 60, minimum: 0, maximum: 86400, description: 'Past its TTL, within this window, a value is served at once while one background refresh runs.' }),
    max_stale_seconds: Type.Number({ default: 900, minimum: 0, maximum: 604800, description: 'Past its TTL, up to this long, the last good value is served when the backends fail; past that, 503.' }),
    refresh_min_interval_seconds: Type.Number({ default: 1, minimum: 0, maximum: 3600, description: 'no-cache, max-age and retries after a failure cause at most one backend lookup per key per interval.' }),
    max_entries: Type.Integer({ default: 10000, minimum: 1, maximum: 10000000 }),
    max_bytes: Type.Integer({ default: 67108864, minimum: 1024, maximum: 17179869184, description: 'Approximate memory bound (JSON size of values and ids).' }),
    version_key: Type.Optional(Type.Union([Type.String({ minLength: 32 }), Type.Null()], { description: 'HMAC key for X-Secret-Version; give replicas the same key so they agree. Default: random per process.' })),
    redis_url: Type.Optional(Type.Union([Type.String({ pattern: '^rediss?://' }), Type.Null()], { description: 'Publish and apply invalidations across replicas over Redis pub/sub.' })),
    redis_channel: Type.String({ default: 'secrets-gateway:cache-invalidations', minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false, default: {} },
);

export const MetricsConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    path: Type.String({ default: '/metrics', pattern: '^/[A-Za-z0-9/_-]*$' }),
    port: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()], { description: 'Serve metrics on this port (on server.host) instead of the main one; null: the main port.' })),
  },
  { additionalProperties: false, default: {} },
);


/** A string or null (Airflow's `str | None` kwargs), with a default or description when given. */
export const stringOrNull = (options: Record<string, unknown> = {}) => Type.Union([Type.String(), Type.Null()], options);
/** An optional `str | None` kwarg. */
export const optionalStringOrNull = () => Type.Optional(stringOrNull());
const nullableString = optionalStringOrNull;

/** Options every backend accepts, whatever its type. */
export const BackendCommonProperties = {
  type: Type.String({ minLength: 1 }),
  name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'Unique name in the chain; defaults to the type.' })),
  kinds: Type.Optional(
    Type.Array(Type.Union([Type.Literal('connections'), Type.Literal('variables'), Type.Literal('config')]), {
      uniqueItems: true,
      description: 'The kinds this backend is asked for (default: all it supports); leave one out to turn it off.',
    }),
  ),
  connections_lookup_pattern: nullableString(),
  variables_lookup_pattern: nullableString(),
  config_lookup_pattern: nullableString(),
  cache_ttl_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 86400, description: "Overrides cache.ttl_seconds for this backend's answers; 0 caches nothing from it." })),
  writable: Type.Optional(Type.Boolean({ description: 'This backend may be the target of the write API (writes.target); types that cannot store are refused at startup.' })),
} satisfies TProperties;

/** A backend's full schema: the shared options plus its own, and nothing else. */
export function backendSchema<P extends TProperties>(own: P): TObject<typeof BackendCommonProperties & P> {
  return Type.Object({ ...BackendCommonProperties, ...own }, { additionalProperties: false });
}

export const WritesConfigSchema = Type.Object(
  {
    target: Type.Union([Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }), Type.Null()], {
      default: null,
      description: 'The backend (by name, with writable: true) that PUT and DELETE on /v1/connections and /v1/variables change; null: the write API answers 409 writes_disabled.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const BackendEntrySchema = Type.Object(BackendCommonProperties, { additionalProperties: true });
export type BackendEntry = Static<typeof BackendEntrySchema> & Record<string, unknown>;

export const GatewayConfigSchema = Type.Object(
  {
    server: ServerConfigSchema,
    log: LogConfigSchema,
    cache: CacheConfigSchema,
    metrics: MetricsConfigSchema,
    backends: Type.Optional(Type.Array(BackendEntrySchema, { maxItems: 32 })),
    critical_connections: Type.Array(Type.String({ minLength: 1, maxLength: 250 }), { default: [], maxItems: 100, description: 'Connection ids checked at startup and periodically.' }),
    connection_checks: ConnectionChecksSchema,
    auth: Type.Optional(AuthConfigSchema),
    audit: AuditConfigSchema,
    writes: WritesConfigSchema,
  },
  { additionalProperties: false },
);

export type ServerConfig = Static<typeof ServerConfigSchema>;
export type ServerTlsConfig = Static<typeof ServerTlsConfigSchema>;
export type LogConfig = Static<typeof LogConfigSchema>;
export type ConnectionChecksConfig = Static<typeof ConnectionChecksSchema>;
export type CacheConfig = Static<typeof CacheConfigSchema>;
export type MetricsConfig = Static<typeof MetricsConfigSchema>;
export type WritesConfig = Static<typeof WritesConfigSchema>;

export interface GatewayConfig {
  server: ServerConfig;
  log: LogConfig;
  cache: CacheConfig;
  metrics: MetricsConfig;
  backends: BackendEntry[];
  critical_connections: string[];
  connection_checks: ConnectionChecksConfig;
  /** Access control; absent means none was configured (`serve` then makes a loopback-only dev key). */
  auth?: AuthConfig | undefined;
  audit: AuditConfig;
  writes: WritesConfig;
  /** Directory that relative file paths in the config are resolved against. */
  baseDir: string;
  /** Where the configuration came from, for the startup log. */
  source: string;
}
