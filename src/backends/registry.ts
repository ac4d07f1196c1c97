// Every backend type the gateway knows. Adding a backend is one module, one line here, its options
// schema in options-schemas.ts, and `node scripts/config-validators.ts` (a unit test checks all three agree).
import type { BackendFactory } from './registry-types.ts';
import { airflowMetastoreBackend } from './airflow-metastore.ts';
import { environmentBackend } from './environment.ts';
import { localFilesystemBackend } from './local-filesystem.ts';
import { vaultBackend } from './vault.ts';
import { awsSecretsManagerBackend } from './aws-secrets-manager.ts';
import { gcpSecretManagerBackend } from './gcp-secret-manager.ts';

const FACTORIES: readonly BackendFactory[] = [
  environmentBackend,
  localFilesystemBackend,
  vaultBackend,
  awsSecretsManagerBackend,
  gcpSecretManagerBackend,
  airflowMetastoreBackend,
];

const byType = new Map(FACTORIES.map((f) => [f.type, f]));

export function backendFactory(type: string): BackendFactory | undefined {
  return byType.get(type);
}

export function knownBackendTypes(): string[] {
  return [...byType.keys()];
}
