// Airflow's BaseSecretsBackend.get_connection, written once for every backend that stores a
// connection as text (spec §1): deserialize only a truthy get_conn_value result (so "" means not
// found), strip it, read JSON when it starts with "{" and a URI otherwise. A value that does not
// parse is the backend's failure (parse-failure.ts). The stored version travels with the answer.
import { deserializeConnection, type Connection } from '../airflow/connection.ts';
import { pyTruthy } from '../airflow/python-json.ts';
import { parseFailure } from './parse-failure.ts';
import type { Found } from './types.ts';

/** An answer with its version and expiry, each present only when known. */
export function foundWith<T>(value: T, stored: { version?: string; expires?: string }): Found<T> {
  return {
    value,
    ...(stored.version ? { version: stored.version } : {}),
    ...(stored.expires ? { expires: stored.expires } : {}),
  };
}

/**
 * get_connection on a stored text. `getConnValue` is the backend's own get_conn_value step between
 * the read and deserialize_connection (AWS re-keys a JSON secret through its aliases); what it
 * throws is a parse failure too, as Airflow's except around the whole of it logs and moves on.
 */
export function connectionFrom(
  backendName: string,
  connId: string,
  stored: Found<string> | null | undefined,
  getConnValue: (text: string) => string = (text) => text,
): Found<Connection> | null {
  if (!stored || !pyTruthy(stored.value)) return null;
  let connection: Connection;
  try {
    connection = deserializeConnection(connId, getConnValue(stored.value));
  } catch (err) {
    throw parseFailure(backendName, err);
  }
  return foundWith(connection, stored);
}
