// The configuration validators, generated from the schemas at build time rather than
// compiled by Ajv at every start (scripts/config-validators.ts writes
// src/generated/config-validators.ts; a test fails when it is stale). This module holds what the
// generator and the loader must agree on.
import type { Options, ValidateFunction } from 'ajv';
import type { AuthConfig } from '../auth/config.ts';
import * as generated from '../generated/config-validators.ts';

/** Ajv's options for the config validators: defaults filled in place, the first error only, no coercion. */
export const CONFIG_VALIDATOR_OPTIONS = { allErrors: false, useDefaults: true, strict: true, coerceTypes: false } as const satisfies Options;

/** The generated module's export name of a backend type's options validator. */
export const backendValidatorName = (type: string): string => `backend_${type}`;

const byName = generated as unknown as Record<string, ValidateFunction | undefined>;

function validator(name: string): ValidateFunction {
  const validate = byName[name];
  // Only when a schema or backend type was added without regenerating (a unit test catches that first).
  if (!validate) throw new Error(`no generated config validator "${name}": run node scripts/config-validators.ts`);
  return validate;
}

/** Validates the whole config file (backend entries only for their shared options) and fills its defaults. */
export const validateConfigFile = (): ValidateFunction => validator('config');

/** An `auth` section with its defaults filled, as loading it from a config file would (the dev mode's section). */
export function authSectionWithDefaults(auth: object): AuthConfig {
  const copy = structuredClone(auth);
  const validate = validator('auth');
  if (!validate(copy)) throw new Error(`invalid auth section: ${validate.errors![0]!.instancePath} ${validate.errors![0]!.message}`);
  return copy as AuthConfig;
}

/** Validates one backend entry against its type's options schema and fills its defaults. */
export const validateBackendOptions = (type: string): ValidateFunction => validator(backendValidatorName(type));
