// Check-and-set for the stores that have none on versions (AWS Secrets Manager, GCP Secret Manager):
// a writer's current() carries the secret's version identity as its token, and a put or a delete reads
// the version again just before it and refuses when it moved. (The window between that read and the
// write remains: these stores offer nothing closer. Vault KV v2 and the overlay check atomically.)
import { askBackend, BackendError, type Current, type SecretsBackend } from './types.ts';

type Versioned = SecretsBackend & { getVersion(kind: 'connection' | 'variable', id: string): Promise<string | null> };

/** The value as the backend's reader reads it, with its version as the check-and-set token. */
export async function currentByVersion(backend: SecretsBackend, kind: 'connection' | 'variable', id: string): Promise<Current | null> {
  const found = await askBackend(backend, kind, id);
  return found ? { value: found.value, cas: found.version ?? null } : null;
}

/** Refuses (precondition_failed, `why`) unless the secret's version is still `expected` (null: it must not exist). */
export async function expectVersion(backend: Versioned, kind: 'connection' | 'variable', id: string, expected: unknown, why: string): Promise<void> {
  if ((await backend.getVersion(kind, id)) !== expected) throw new BackendError('precondition_failed', `${backend.name}: ${why}`);
}
