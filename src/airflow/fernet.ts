// Fernet decryption, as Airflow's get_fernet() uses it (airflow/models/crypto.py):
// `[core] fernet_key` is split on "," into keys, each a Fernet key, and read
// with MultiFernet, which tries each key in turn (the first one encrypts, so a
// rotation puts the new key first). Spec: https://github.com/fernet/spec
// (cryptography's fernet.py is the reference). Airflow passes ttl=None, so the
// token timestamp is not checked. Only decryption: the gateway never writes.
//
// Written on Node's crypto rather than taken from npm: the `fernet` package is
// built on crypto-js 3.1 (discontinued), and the format is small and exact.
import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';

/** A key or token that is not valid. The message never contains key material or plaintext. */
export class FernetError extends Error {
  readonly code: 'invalid_fernet_key' | 'invalid_token';
  constructor(code: 'invalid_fernet_key' | 'invalid_token', message: string) {
    super(message);
    this.name = 'FernetError';
    this.code = code;
  }
}

interface FernetKey {
  signingKey: Buffer;
  encryptionKey: Buffer;
}

const VERSION = 0x80;
const HEADER_LEN = 1 + 8 + 16; // version, timestamp, IV
const HMAC_LEN = 32;
const URLSAFE_B64 = /^[A-Za-z0-9_-]*={0,2}$/;

/** base64.urlsafe_b64decode for well-formed input: Python rejects bad padding; Node would not. */
function urlsafeB64decode(text: string): Buffer | null {
  if (!URLSAFE_B64.test(text) || text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64url');
}

function parseKey(text: string, position: number): FernetKey {
  const raw = urlsafeB64decode(text.trim());
  if (raw === null || raw.length !== 32) {
    throw new FernetError('invalid_fernet_key', `Fernet key #${position + 1} must be 32 url-safe base64-encoded bytes.`);
  }
  return { signingKey: raw.subarray(0, 16), encryptionKey: raw.subarray(16) };
}

function decryptWith(key: FernetKey, data: Buffer): Buffer | null {
  const body = data.subarray(0, data.length - HMAC_LEN);
  const expected = createHmac('sha256', key.signingKey).update(body).digest();
  if (!timingSafeEqual(expected, data.subarray(data.length - HMAC_LEN))) return null;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.encryptionKey, data.subarray(9, HEADER_LEN));
    return Buffer.concat([decipher.update(data.subarray(HEADER_LEN, data.length - HMAC_LEN)), decipher.final()]);
  } catch {
    return null; // bad padding: cryptography raises InvalidToken
  }
}

/** MultiFernet over Airflow's comma-separated `fernet_key`. */
export class MultiFernet {
  private readonly keys: FernetKey[];

  constructor(fernetKey: string) {
    const parts = fernetKey.split(',');
    this.keys = parts.map((p, i) => parseKey(p, i));
  }

  get keyCount(): number {
    return this.keys.length;
  }

  /** The plaintext as UTF-8 text (Airflow: `fernet.decrypt(...).decode()`); throws FernetError. */
  decrypt(token: string): string {
    const data = urlsafeB64decode(token);
    if (data === null || data.length < HEADER_LEN + HMAC_LEN || data[0] !== VERSION) {
      throw new FernetError('invalid_token', 'The value is not a Fernet token.');
    }
    for (const key of this.keys) {
      const plain = decryptWith(key, data);
      if (plain !== null) {
        // Python's bytes.decode() is strict UTF-8.
        try {
          return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(plain);
        } catch {
          throw new FernetError('invalid_token', 'The decrypted value is not UTF-8 text.');
        }
      }
    }
    throw new FernetError('invalid_token', 'No Fernet key decrypts the value (invalid token or wrong key).');
  }
}
