// Every backend type the gateway knows, one line each, in the order the docs and the generated schemas
// list them. Everything else reads these descriptors (descriptor.ts): config validation, the Airflow
// [secrets] compatibility, the schema generators and the conformance suite.
import type { TObject } from '@sinclair/typebox';
import type { BackendDescriptor, CreateBackend } from './descriptor.ts';
import { descriptor as environment } from './environment/descriptor.ts';
import { descriptor as localFilesystem } from './local-filesystem/descriptor.ts';
import { descriptor as vault } from './vault/descriptor.ts';
import { descriptor as awsSecretsManager } from './aws-secrets-manager/descriptor.ts';
import { descriptor as gcpSecretManager } from './gcp-secret-manager/descriptor.ts';
import { descriptor as airflowMetastore } from './airflow-metastore/descriptor.ts';
import { descriptor as overlay } from './overlay/descriptor.ts';

export const BACKENDS: readonly BackendDescriptor[] = [environment, localFilesystem, vault, awsSecretsManager, gcpSecretManager, airflowMetastore, overlay];

const BY_TYPE: ReadonlyMap<string, BackendDescriptor> = new Map(BACKENDS.map((d) => [d.type, d]));

export const backendDescriptor = (type: string): BackendDescriptor | undefined => BY_TYPE.get(type);

export function isKnownBackendType(type: string): boolean {
  return BY_TYPE.has(type);
}

export function knownBackendTypes(): string[] {
  return BACKENDS.map((d) => d.type);
}

/** The factory of a backend type (undefined for an unknown one), its module imported on first use. */
export async function loadBackendFactory(type: string): Promise<CreateBackend | undefined> {
  return BY_TYPE.get(type)?.load();
}

/** Each type's options schema, in the registry's order: for the generators and the tests only (it loads TypeBox). */
export async function backendOptionsSchemas(): Promise<Record<string, TObject>> {
  return Object.fromEntries(await Promise.all(BACKENDS.map(async (d) => [d.type, await d.optionsSchema()] as const)));
}
