// readTlsMaterial: what a certificate set must be to be served (at start, in `config check`, and at
// every change on disk), with certificates minted by openssl.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { readTlsMaterial, tlsConfigProblems } from '../../../src/http/tls.ts';
import { registerSecrets, tempDir } from '../../helpers/gateway.ts';
import { mintCa, mintCert } from '../../helpers/tls.ts';

describe('readTlsMaterial', () => {
  const dir = tempDir('sg-tls-material-');
  const ca = mintCa(dir, 'ca');
  const server = mintCert(dir, ca, 'server', { cn: 'localhost', sans: ['DNS:localhost'], usage: 'serverAuth' });
  registerSecrets([server.key]);
  const tls = { cert_file: 'server.crt', key_file: 'server.key', client_auth: 'none' as const, min_version: 'TLSv1.2' as const, certificate_only: false };

  it('reads a good set: the context, the expiry and the fingerprint', () => {
    const material = readTlsMaterial(tls, dir);
    const x509 = new X509Certificate(server.cert);
    assert.equal(material.fingerprint256, x509.fingerprint256);
    assert.equal(material.notAfter, Date.parse(x509.validTo));
    assert.equal(material.context.minVersion, 'TLSv1.2');
    assert.equal(material.context.ca, undefined);
  });

  it('refuses an expired certificate, naming cert_file', () => {
    const notAfter = Date.parse(new X509Certificate(server.cert).validTo);
    assert.throws(() => readTlsMaterial(tls, dir, notAfter + 1000), /server\.tls\.cert_file: the certificate expired/);
  });

  it('refuses a CA file that is not PEM, and client_auth without a CA', () => {
    assert.throws(() => readTlsMaterial({ ...tls, client_auth: 'require', ca_file: 'server.key' }, dir), /server\.tls\.ca_file: is not a PEM certificate bundle/);
    assert.deepEqual(tlsConfigProblems({ ...tls, client_auth: 'request' }), [['server.tls.ca_file', 'client_auth "request" needs the CA that client certificates must chain to']]);
  });
});
