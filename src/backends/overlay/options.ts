// The overlay backend's options schema (TypeBox): what a backend entry of this type may say. Loaded only by
// the generators and the tests (through its descriptor's optionsSchema()), never by a start: see ../registry.ts.
import { Type } from '@sinclair/typebox';
import { backendSchema } from '../../config/schema.ts';
import { optionalString } from '../options-common.ts';

export const optionsSchema = backendSchema({
  type: Type.Literal('overlay'),
  redis_url: Type.String({ pattern: '^rediss?://', description: 'The Redis every replica shares (it may be cache.redis_url).' }),
  key_file: optionalString('File holding the 32-byte AES-256-GCM key (base64) that entries are encrypted with at rest.'),
  key_env: Type.String({ minLength: 1, default: 'SECRETS_GATEWAY_OVERLAY_KEY', description: 'Environment variable holding the key, when key_file is not set.' }),
  key_prefix: Type.String({ minLength: 1, maxLength: 200, default: 'secrets-gateway:overlay:', description: 'Prefix of the Redis keys.' }),
  max_ttl_seconds: Type.Integer({ default: 86400, minimum: 1, maximum: 31536000, description: 'Longest expiry a write may ask for (?ttl_seconds).' }),
  default_ttl_seconds: Type.Integer({ default: 3600, minimum: 1, maximum: 31536000, description: 'Expiry of a write that names none (capped at max_ttl_seconds).' }),
  timeout_seconds: Type.Number({ default: 2, exclusiveMinimum: 0, maximum: 60, description: 'Budget for one Redis command.' }),
});
