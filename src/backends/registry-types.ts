import type { Logger } from 'pino';
import type { BackendEntry } from '../config/schema.ts';
import type { SecretsBackend } from './types.ts';

/** What a backend is built with: nothing global, so tests can build many side by side. */
export interface BackendContext {
  /** Directory that relative paths in the backend's options are resolved against. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/**
 * One per backend module: its type name and how to build it from an entry the generated
 * validator has checked (its options schema is in options-schemas.ts).
 */
export interface BackendFactory {
  type: string;
  create(options: BackendEntry, ctx: BackendContext): SecretsBackend;
}
