// certificateClaims: what a client certificate tells policies, from certificates minted by openssl
// and from Node's own text forms (a SAN or a DN value that tries to pose as another entry).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { certificateClaims, subjectAltNames } from '../../../src/auth/client-cert.ts';
import { accessFor, decide } from '../../../src/auth/policy.ts';
import { tempDir } from '../../helpers/gateway.ts';
import { mintCa, mintCert } from '../../helpers/tls.ts';

describe('certificateClaims', () => {
  it('a minted client certificate: subject, CN, URI and DNS SANs, issuer, fingerprint', () => {
    const dir = tempDir('sg-cert-claims-');
    const ca = mintCa(dir, 'claims-ca');
    const cert = mintCert(dir, ca, 'worker', { cn: 'airflow-worker', sans: ['URI:spiffe://example.org/ns/airflow/sa/worker', 'DNS:worker.airflow.svc', 'email:ops@example.org'], usage: 'clientAuth' });
    const x509 = new X509Certificate(cert.cert);
    const claims = certificateClaims({ ...x509.toLegacyObject(), fingerprint256: x509.fingerprint256 });
    assert.deepEqual(claims, {
      cert_subject: 'O=secrets-gateway tests, CN=airflow-worker',
      cert_cn: 'airflow-worker',
      cert_uri: ['spiffe://example.org/ns/airflow/sa/worker'],
      cert_dns: ['worker.airflow.svc'],
      cert_email: ['ops@example.org'],
      cert_issuer: 'O=secrets-gateway tests, CN=claims-ca',
      cert_fingerprint: x509.fingerprint256,
    });
  });

  it('a SAN value with a comma stays one value (Node quotes it); a DN value cannot pose as another attribute', () => {
    // Node's text form of a SAN whose value holds `, URI:` (escaped and quoted, as Node writes it since 17.3).
    const sans = subjectAltNames('URI:"spiffe://x/a\\u002c URI:spiffe://example.org/admin", DNS:ok.example, IP Address:127.0.0.1');
    assert.deepEqual(sans.get('URI'), ['spiffe://x/a, URI:spiffe://example.org/admin']);
    assert.deepEqual(sans.get('DNS'), ['ok.example']);
    assert.deepEqual(sans.get('IP Address'), ['127.0.0.1']);
    const claims = certificateClaims({ subject: { CN: 'x, O=platform' } as never, issuer: { CN: 'ca' } as never, subjectaltname: 'URI:"spiffe://x/a\\u002c URI:spiffe://example.org/admin"', fingerprint256: 'AA' });
    assert.equal(claims.cert_subject, 'CN=x\\, O\\=platform');
    assert.deepEqual(claims.cert_uri, ['spiffe://x/a, URI:spiffe://example.org/admin']);
    // So a policy on the admin SPIFFE ID or on O=platform does not match.
    const access = accessFor({ ...claims }, [], [
      { match: { cert_uri: 'spiffe://example.org/admin' }, grants: ['connections:read:*'] },
      { match: { cert_subject: '*O=platform*' }, grants: ['variables:read:*'] },
    ]);
    assert.deepEqual(access.grants, []);
    assert.equal(decide(access, 'connections:read', 'any').allowed, false);
  });

  it('no SANs: empty lists, and no CN claim when the subject has none', () => {
    const claims = certificateClaims({ subject: { O: 'org' } as never, issuer: { CN: 'ca' } as never, subjectaltname: undefined as never, fingerprint256: 'BB' });
    assert.deepEqual(claims, { cert_subject: 'O=org', cert_uri: [], cert_dns: [], cert_email: [], cert_issuer: 'CN=ca', cert_fingerprint: 'BB' });
  });
});
