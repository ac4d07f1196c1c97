// Fernet tokens made by Python's cryptography (the library Airflow uses), decrypted by the gateway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FernetError, MultiFernet } from '../../../src/airflow/fernet.ts';

// Generated with cryptography 50.0.2: Fernet(key).encrypt(plaintext).
const K1 = 'f4bVo0Jt_b1orl7YxuhGW1znaCpWiuR9775srif3kEM=';
const K2 = 'FW9thYhOyeVQ1AginGoILSkB9scIsYhxH4x7Rn3Qmiw=';
const T1_UNICODE = 'gAAAAABrBS9w5kARhuwpFN4NhrXsCcqL4CD5o0_Hulpmd_d0mTxAOzcO5WqPIfPWguET_qS5J9ZkSA4g6JVDoULVFlPuh2gynw==';
const T2_EMPTY = 'gAAAAABrBS9wkG4oM3Z3por-453jFsmMRTUlkL6JQzXQWXAijHl5WCD-AM5F6tuWn9T8lU_39l6Y6Wq7Ae-GzGCrhmqcA2DcFA==';
const T1_LONG =
  'gAAAAABrBS9w-xNNAsLAVRseXNeOch5GnAHRPoreskb1o14cSaPUyOJ5VV-QQms80hVcgJgDuYEtykdSNiKx3XDloh30GVpltaMoOuMHdmuxsNuJsA9MprculnURCuVgMVEWYb080f2aK1jDmU7E5H9o3Lh-qaqPTw==';
const T1_NOT_UTF8 = 'gAAAAABrBS9w9zC1QaQyYzKvSPx5AeiRu2_gkFrFHFr24Bxab_kND3ayPc1cDS0skdybcCTh1qTf2oY01PB2dcgDbQlQiyTBgA==';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof FernetError);
    return e.code;
  }
  return 'no error';
};

test('decrypts tokens made by Python cryptography', () => {
  const f = new MultiFernet(K1);
  assert.equal(f.decrypt(T1_UNICODE), 'pässwörd ✓');
  assert.equal(f.decrypt(T1_LONG), `{"a": "${'x'.repeat(40)}"}`);
  assert.equal(new MultiFernet(K2).decrypt(T2_EMPTY), '');
});

test('MultiFernet: any key of the comma-separated list decrypts, in either order, spaces ignored', () => {
  for (const keys of [`${K1},${K2}`, `${K2},${K1}`, ` ${K2} , ${K1} `]) {
    const f = new MultiFernet(keys);
    assert.equal(f.keyCount, 2);
    assert.equal(f.decrypt(T1_UNICODE), 'pässwörd ✓');
    assert.equal(f.decrypt(T2_EMPTY), '');
  }
});

test('a wrong key, a tampered token or a non-token is invalid_token, and the message has no plaintext', () => {
  assert.equal(code(() => new MultiFernet(K2).decrypt(T1_UNICODE)), 'invalid_token');
  const tampered = T1_UNICODE.slice(0, 40) + (T1_UNICODE[40] === 'A' ? 'B' : 'A') + T1_UNICODE.slice(41);
  assert.equal(code(() => new MultiFernet(K1).decrypt(tampered)), 'invalid_token');
  for (const bad of ['', 'plain text', 'gAAAAA==', T1_UNICODE.replace(/=+$/, ''), `x${T1_UNICODE}`]) {
    assert.equal(code(() => new MultiFernet(K1).decrypt(bad)), 'invalid_token', bad);
  }
  // Decrypts, but `.decode()` (strict UTF-8) fails in Python too.
  assert.equal(code(() => new MultiFernet(K1).decrypt(T1_NOT_UTF8)), 'invalid_token');
  try {
    new MultiFernet(K2).decrypt(T1_UNICODE);
  } catch (e) {
    assert.doesNotMatch(String((e as Error).message), /pässwörd|f4bVo0/);
  }
});

test('keys that are not 32 url-safe base64 bytes are rejected with their position, not their text', () => {
  assert.equal(code(() => new MultiFernet('')), 'invalid_fernet_key');
  assert.equal(code(() => new MultiFernet(`${K1},`)), 'invalid_fernet_key');
  assert.equal(code(() => new MultiFernet(K1.slice(4))), 'invalid_fernet_key');
  assert.throws(() => new MultiFernet(`${K1},short`), (e: Error) => e.message.includes('#2') && !e.message.includes('short'));
});
