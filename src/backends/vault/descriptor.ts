import type { BackendDescriptor } from '../descriptor.ts';

export const descriptor: BackendDescriptor = {
  type: 'vault',
  airflowClasses: ['airflow.providers.hashicorp.secrets.vault.VaultBackend'],
  capabilities: { versioned: true, writable: true },
  cannotWrite: (entry) => (entry.kv_engine_version === 1 ? 'writes need KV v2 (check-and-set)' : undefined),
  optionsSchema: async () => (await import('./options.ts')).optionsSchema,
  load: async () => (await import('./backend.ts')).createBackend,
};
