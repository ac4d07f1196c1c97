import type { BackendDescriptor } from '../descriptor.ts';

export const descriptor: BackendDescriptor = {
  type: 'gcp_secret_manager',
  airflowClasses: ['airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend'],
  capabilities: { versioned: true, writable: true },
  optionsSchema: async () => (await import('./options.ts')).optionsSchema,
  load: async () => (await import('./backend.ts')).createBackend,
};
