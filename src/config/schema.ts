// The one typed configuration schema, with its defaults. TypeBox gives the JSON
// Schema (validated by Ajv) and the TypeScript type from one definition.
// Backend options are validated per backend type by the schema each backend
// module exports (see backends/registry.ts), so this file knows only what every
// backend shares.
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { AuditConfigSchema, type AuditConfig } from '../audit/config.ts';
import { AuthConfigSchema, type AuthConfig } from '../auth/config.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ServerConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address to bind. Without an `auth` section, only loopback is allowed.' }),
    port: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: '0 picks any free port; the bound address is logged.' }),
    body_limit_bytes: Type.Integer({ default: 65536, minimum: 1024, maximum: 10485760 }),
    shutdown_timeout_seconds: Type.Number({ default: 10, minimum: 0, maximum: 300, description: 'How long SIGTERM waits for in-flight requests.' }),
  },
  { additionalProperties: false, default: {} },
);

export const LogConfigSchema = Type.Object(
  {
    level: Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: 'info' }),
  },
  { additionalProperties: false, default: {} },
);

const nullableString = () => Type.Optional(Type.Union([Type.String(), Type.Null()]));

/** Options every backend accepts, whatever its type. */
export const BackendCommonProperties = {
  type: Type.String({ minLength: 1 }),
  name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'Unique name in the chain; defaults to the type.' })),
  connections_lookup_pattern: nullableString(),
  variables_lookup_pattern: nullableString(),
  config_lookup_pattern: nullableString(),
} satisfies TProperties;

/** A backend's full schema: the shared options plus its own, and nothing else. */
export function backendSchema<P extends TProperties>(own: P): TObject<typeof BackendCommonProperties & P> {
  return Type.Object({ ...BackendCommonProperties, ...own }, { additionalProperties: false });
}

export const BackendEntrySchema = Type.Object(BackendCommonProperties, { additionalProperties: true });
export type BackendEntry = Static<typeof BackendEntrySchema> & Record<string, unknown>;

export const GatewayConfigSchema = Type.Object(
  {
    server: ServerConfigSchema,
    log: LogConfigSchema,
    backends: Type.Optional(Type.Array(BackendEntrySchema, { maxItems: 32 })),
    auth: Type.Optional(AuthConfigSchema),
    audit: AuditConfigSchema,
  },
  { additionalProperties: false },
);

export type ServerConfig = Static<typeof ServerConfigSchema>;
export type LogConfig = Static<typeof LogConfigSchema>;

export interface GatewayConfig {
  server: ServerConfig;
  log: LogConfig;
  backends: BackendEntry[];
  /** Access control; absent means none was configured (`serve` then makes a loopback-only dev key). */
  auth?: AuthConfig | undefined;
  audit: AuditConfig;
  /** Directory that relative file paths in the config are resolved against. */
  baseDir: string;
  /** Where the configuration came from, for the startup log. */
  source: string;
}
