// Fernet decryption, as Airflow's get_fernet() uses it (airflow/models/crypto.py):
// `[core] fernet_key` is split on "," into keys, each a Fernet key, and read
// with MultiFernet, which tries each key in turn (the first one encrypts, so a
// rotation puts the new key first). Spec: https://github.com/fernet/spec
// (cryptography's fernet.py is the reference). Airflow passes ttl=None, so the
// token timestamp is not checked. Encryption (the write API's metastore writes) uses the first
// key, as MultiFernet.encrypt does.
//
// Written on Node's crypto rather than taken from npm: the `fernet` package is
// built on crypto-js 3.1 (discontinued), and the format is small and exact.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

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

  /** A Fernet token of UTF-8 text under the first (current) key (Airflow: `fernet.encrypt(value.encode()).decode()`). */
  encrypt(text: string): string {
    const key = this.keys[0]!;
    const header = Buffer.alloc(9);
    header[0] = VERSION;
    header.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000)), 1);
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-128-cbc', key.encryptionKey, iv);
    const body = Buffer.concat([header, iv, cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([body, createHmac('sha256', key.signingKey).update(body).digest()]).toString('base64url').padEnd(Math.ceil((body.length + HMAC_LEN) / 3) * 4, '=');
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
