import type { BackendDescriptor } from '../descriptor.ts';
import { createBackend } from './backend.ts';

export const descriptor: BackendDescriptor = {
  type: 'local_filesystem',
  airflowClasses: ['airflow.secrets.local_filesystem.LocalFilesystemBackend'],
  capabilities: { versioned: false, writable: false },
  optionsSchema: async () => (await import('./options.ts')).optionsSchema,
  load: () => createBackend,
};
