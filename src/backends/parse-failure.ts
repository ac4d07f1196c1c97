import { BackendError } from './types.ts';

/** A stored value that does not parse is this backend's failure (Airflow logs it and moves on).
 * The parser's code is kept; its message is not passed on, as it may describe the value. */
export function parseFailure(backendName: string, err: unknown): BackendError {
  const code = (err as { code?: unknown })?.code;
  return new BackendError(
    'invalid_value',
    `${backendName}: a stored value could not be parsed as an Airflow connection (${typeof code === 'string' ? code : 'parse_error'})`,
    { cause: err },
  );
}
