import type { BackendDescriptor } from '../descriptor.ts';

export const descriptor: BackendDescriptor = {
  type: 'aws_secrets_manager',
  airflowClasses: ['airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend'],
  capabilities: { versioned: true, writable: true },
  optionsSchema: async () => (await import('./options.ts')).optionsSchema,
  load: async () => (await import('./backend.ts')).createBackend,
};
