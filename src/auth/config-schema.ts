// The `auth:` section's schema (TypeBox) and its types. Only the config validator generator
// (scripts/config-validators.ts) and the tests load this module; the gateway validates the section
// with the generated validator, and its modules take these types with `import type`, so a start
// never loads TypeBox. The checks the schema cannot express are in config.ts.
import { Type, type Static } from '@sinclair/typebox';

export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const KeySchema = Type.Object(
  {
    kid: Type.String({ minLength: 1, maxLength: 256 }),
    alg: Type.Union(JWT_ALGORITHMS.map((a) => Type.Literal(a))),
    secret_file: Type.Optional(Type.String({ minLength: 1, description: 'HS*: a file holding the secret (a trailing newline is ignored).' })),
    secret_env: Type.Optional(Type.String({ minLength: 1, description: 'HS*: an environment variable holding the secret.' })),
    public_key_file: Type.Optional(Type.String({ minLength: 1, description: 'RS/PS/ES/EdDSA: a PEM public key or certificate.' })),
    public_key_env: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const JwksSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'https, or http on a loopback address.' }),
    cache_seconds: Type.Number({ default: 600, minimum: 1, maximum: 86400 }),
    min_refresh_interval_seconds: Type.Number({ default: 30, minimum: 0, maximum: 3600, description: 'An unknown kid refetches the set at most this often.' }),
    timeout_seconds: Type.Number({ default: 5, minimum: 0.1, maximum: 60 }),
    token_file: Type.Optional(
      Type.String({
        pattern: '^/',
        description:
          'An absolute path to a bearer token sent with each fetch, re-read every time (a projected service-account token: ' +
          "a Kubernetes API server serves /openid/v1/jwks only to authenticated callers by default).",
      }),
    ),
  },
  { additionalProperties: false },
);

const PolicySchema = Type.Object(
  {
    match: Type.Record(Type.String({ minLength: 1 }), Type.String(), { minProperties: 1 }),
    grants: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    deny: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
);

const StringOrList = Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]);

export const AuthConfigSchema = Type.Object(
  {
    enforce: Type.Boolean({ default: true, description: 'false: a dry run that audits "would deny" and serves anyway.' }),
    audience: Type.Optional(StringOrList),
    issuer: Type.Optional(StringOrList),
    clock_skew_seconds: Type.Number({ default: 30, minimum: 0, maximum: 300 }),
    max_token_bytes: Type.Integer({ default: 8192, minimum: 256, maximum: 16384 }),
    // Optional, as Vault's token_max_ttl: tokens whose exp - iat (or exp - now, without iat) is longer are refused.
    max_token_lifetime_seconds: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    token_cache_size: Type.Integer({ default: 10000, minimum: 0, maximum: 1000000 }),
    keys: Type.Array(KeySchema, { default: [], maxItems: 64 }),
    jwks: Type.Array(JwksSchema, { default: [], maxItems: 16 }),
    policies: Type.Array(PolicySchema, { default: [], maxItems: 1000 }),
    rate_limit: Type.Union(
      [
        Type.Object(
          {
            max: Type.Integer({ minimum: 1 }),
            window_seconds: Type.Number({ minimum: 0.001 }),
          },
          { additionalProperties: false },
        ),
        Type.Literal(false),
      ],
      { default: { max: 1000, window_seconds: 1 }, description: 'Requests per subject per window; false turns it off.' },
    ),
  },
  { additionalProperties: false },
);

export type AuthConfig = Static<typeof AuthConfigSchema>;
export type KeyConfig = AuthConfig['keys'][number];
export type JwksConfig = AuthConfig['jwks'][number];
