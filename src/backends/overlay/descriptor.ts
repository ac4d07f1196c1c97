import type { BackendDescriptor } from '../descriptor.ts';

export const descriptor: BackendDescriptor = {
  type: 'overlay',
  airflowClasses: [],
  capabilities: { versioned: false, writable: true },
  optionsSchema: async () => (await import('./options.ts')).optionsSchema,
  load: async () => (await import('./backend.ts')).createBackend,
};
