// What the rest of the gateway knows of a backend type: its descriptor, one per folder
// (src/backends/<name>/descriptor.ts), listed in registry.ts. The configuration's Airflow
// compatibility, the schema generators, config validation and the conformance suite all read the
// descriptors, so adding a backend is a folder, one registry line and one test fixture
// (docs/development.md, "Add a backend").
import type { Logger } from 'pino';
import type { TObject } from '@sinclair/typebox';
import type { BackendEntry } from '../config/schema.ts';
import type { SecretsBackend } from './types.ts';

/** What a backend is built with: nothing global, so tests can build many side by side. */
export interface BackendContext {
  /** Directory that relative paths in the backend's options are resolved against. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** Builds a backend from an entry the generated validator has checked (defaults filled). */
export type CreateBackend = (options: BackendEntry, ctx: BackendContext) => SecretsBackend;

export interface BackendDescriptor {
  /** The `type` of a backend entry in the configuration. */
  readonly type: string;
  /** The Airflow secrets backend classes it stands in for (AIRFLOW__SECRETS__BACKEND, config/airflow-compat.ts). */
  readonly airflowClasses: readonly string[];
  readonly capabilities: {
    /** Its answers carry a version identity that a metadata call confirms without the value
     * (SecretsBackend.getVersion), where its store keeps versions (Vault: KV v2). */
    readonly versioned: boolean;
    /** It can be the write API's target (`writable: true`, SecretWriter). */
    readonly writable: boolean;
  };
  /** Why an entry of this writable type cannot be written as configured (Vault KV v1 has no check-and-set); undefined: it can. */
  cannotWrite?(entry: BackendEntry): string | undefined;
  /** Its options schema (TypeBox, in the folder's options.ts): imported only by the generators and the
   * tests, never by a start, which validates with the generated code (src/generated/). */
  optionsSchema(): Promise<TObject>;
  /** Its factory. A network backend's module (and its SDK, cockatiel, its HTTP client) is imported only
   * when the configuration has one (the cost: see bench/optimization-log.md, "Figures quoted in code comments"). */
  load(): CreateBackend | Promise<CreateBackend>;
}
