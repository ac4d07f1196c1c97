// The `audit:` section: where audit events go, and the key that fingerprints values. A schema
// module: only the generators and the tests load it; the gateway takes its type with `import type`.
import { Type, type Static } from '@sinclair/typebox';

export const AuditConfigSchema = Type.Object(
  {
    sink: Type.Union([Type.Literal('file'), Type.Literal('stdout')], {
      default: 'file',
      description: 'file: `file`; stdout: audit lines on stdout, and the application log moves to stderr.',
    }),
    file: Type.Optional(Type.String({ minLength: 1, description: 'Relative to the config file. Default: ./.secrets-gateway/audit.log in the working directory.' })),
    key_file: Type.Optional(Type.String({ minLength: 1, description: 'HMAC key for value fingerprints. Default: ./.secrets-gateway/audit-key in the working directory, created (0600) when missing.' })),
    key_env: Type.Optional(Type.String({ minLength: 1 })),
    on_failure: Type.Union([Type.Literal('refuse'), Type.Literal('serve')], {
      default: 'refuse',
      description: 'When the sink cannot be written: refuse requests (503 audit_unavailable), or serve and log the error.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export type AuditConfig = Static<typeof AuditConfigSchema>;
