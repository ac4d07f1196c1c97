// Validation of the ids in request paths. Rejected ids never reach a backend.
import { isValidConnId } from '../airflow/connection.ts';
import { invalidId } from '../errors.ts';
import type { SecretKind } from '../backends/types.ts';

/** Airflow stores ids in String(250) columns (ID_LEN). */
export const MAX_ID_LENGTH = 250;

// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Throws invalid_id (400) when `id` cannot name a secret of this kind. */
export function validateId(kind: SecretKind, id: string): void {
  if (id.length === 0) throw invalidId(`The ${kind} id is empty.`);
  if (id.length > MAX_ID_LENGTH) throw invalidId(`The ${kind} id is longer than ${MAX_ID_LENGTH} characters.`);
  if (CONTROL.test(id)) throw invalidId(`The ${kind} id contains a control character.`);
  if (kind === 'connection' && !isValidConnId(id)) {
    throw invalidId('The connection id has characters Airflow does not allow in a conn_id (letters, digits, _ # ! ( ) - . : / \\).');
  }
}
