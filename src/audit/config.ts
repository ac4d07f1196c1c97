// The `audit:` section: where audit events go, and the key that fingerprints values. A schema
// module: only the generators and the tests load it; the gateway takes its type with `import type`.
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_ROTATE } from './sink.ts';

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
      description: 'While the sink cannot be written (retried with backoff): refuse requests (503 audit_unavailable), or serve and log the error.',
    }),
    rotate: Type.Union(
      [
        Type.Object(
          {
            max_bytes: Type.Integer({ minimum: 4096, maximum: 1099511627776, description: 'A file is rotated before it would grow past this size.' }),
            keep: Type.Integer({ minimum: 1, maximum: 1000, description: 'Rotated files kept (file.1 … file.N); the oldest beyond is deleted.' }),
          },
          { additionalProperties: false },
        ),
        Type.Literal(false),
      ],
      {
        default: { max_bytes: DEFAULT_ROTATE.max_bytes, keep: DEFAULT_ROTATE.keep },
        description: 'The file sink: size-bounded rotation, the hash chain running on across files; at most (keep + 1) × max_bytes on disk. false: never rotate (for logrotate, which sends SIGHUP).',
      },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type AuditConfig = Static<typeof AuditConfigSchema>;
