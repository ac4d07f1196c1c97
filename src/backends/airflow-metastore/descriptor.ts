import type { BackendDescriptor } from '../descriptor.ts';
import { createBackend } from './backend.ts';

export const descriptor: BackendDescriptor = {
  type: 'airflow_metastore',
  airflowClasses: ['airflow.secrets.metastore.MetastoreBackend'],
  capabilities: { versioned: false, writable: true },
  optionsSchema: async () => (await import('./options.ts')).optionsSchema,
  load: () => createBackend,
};
