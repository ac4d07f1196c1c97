// Every backend type the gateway knows. Adding a backend is one module, one line here, its options
// schema in options-schemas.ts, and `node scripts/config-validators.ts` (a unit test checks all three agree).
// The network backends' modules, with cockatiel (their resilience policies) and their HTTP clients, are
// imported only when the configuration has one, as their SDKs are: CPU at every start otherwise (how much:
// see bench/optimization-log.md, "Figures quoted in code comments").
import type { BackendFactory } from './registry-types.ts';
import { airflowMetastoreBackend } from './airflow-metastore.ts';
import { environmentBackend } from './environment.ts';
import { localFilesystemBackend } from './local-filesystem.ts';

const FACTORIES: Readonly<Record<string, () => BackendFactory | Promise<BackendFactory>>> = {
  environment: () => environmentBackend,
  local_filesystem: () => localFilesystemBackend,
  vault: async () => (await import('./vault.ts')).vaultBackend,
  aws_secrets_manager: async () => (await import('./aws-secrets-manager.ts')).awsSecretsManagerBackend,
  gcp_secret_manager: async () => (await import('./gcp-secret-manager.ts')).gcpSecretManagerBackend,
  airflow_metastore: () => airflowMetastoreBackend,
  overlay: async () => (await import('./overlay.ts')).overlayBackend,
};

export function isKnownBackendType(type: string): boolean {
  return Object.hasOwn(FACTORIES, type);
}

export function knownBackendTypes(): string[] {
  return Object.keys(FACTORIES);
}

/** The factory of a backend type (undefined for an unknown one), its module imported on first use. */
export async function loadBackendFactory(type: string): Promise<BackendFactory | undefined> {
  return isKnownBackendType(type) ? FACTORIES[type]!() : undefined;
}
