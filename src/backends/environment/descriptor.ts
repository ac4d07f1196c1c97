import type { BackendDescriptor } from '../descriptor.ts';
import { createBackend } from './backend.ts';

export const descriptor: BackendDescriptor = {
  type: 'environment',
  airflowClasses: ['airflow.secrets.environment_variables.EnvironmentVariablesBackend'],
  capabilities: { versioned: false, writable: false },
  optionsSchema: async () => (await import('./options.ts')).optionsSchema,
  load: () => createBackend,
};
