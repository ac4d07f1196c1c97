// Option schemas (TypeBox) that several backends share. Like every options schema, loaded only by the
// generators (scripts/config-validators.ts, scripts/chart-schema.ts) and the tests, never by a start.
import { Type } from '@sinclair/typebox';
import { stringOrNull } from '../config/schema.ts';

/** Options every network backend takes (gateway options, not Airflow kwargs); read by resilience.ts's `resilienceFrom`. */
export const resilienceOptions = {
  timeout_seconds: Type.Number({ default: 5, exclusiveMinimum: 0, maximum: 300, description: 'Budget for one lookup, retries included.' }),
  max_retries: Type.Integer({ default: 2, minimum: 0, maximum: 10, description: 'Retries of a transient failure, with jittered exponential backoff.' }),
  circuit_breaker_failures: Type.Integer({ default: 5, minimum: 1, maximum: 1000, description: 'Consecutive failed lookups that open the circuit.' }),
  circuit_breaker_reset_seconds: Type.Number({ default: 10, minimum: 0.05, maximum: 3600, description: 'How long the circuit stays open before one probe.' }),
};

/** The prefix kwargs of Airflow's cloud secrets backends (null turns a kind off), with each backend's defaults. */
export const prefixOptions = (connections: string, variables: string, config: string, sep: string) => ({
  connections_prefix: stringOrNull({ default: connections }),
  variables_prefix: stringOrNull({ default: variables }),
  config_prefix: stringOrNull({ default: config }),
  sep: Type.String({ default: sep }),
});

export const optionalString = (description: string) => Type.Optional(Type.String({ minLength: 1, description }));
