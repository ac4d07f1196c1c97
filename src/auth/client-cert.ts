// A verified TLS client certificate as identity (server.tls.client_auth request | require).
// The certificate becomes claims named cert_* (subject, CN, URI and DNS SANs, issuer,
// fingerprint) that auth.policies match like a token's claims. With a bearer token, the
// certificate's claims join the token's (a token's own cert_* claims are dropped, so only a
// certificate can satisfy a cert_* match); without one, and only with
// server.tls.certificate_only, the certificate alone is the caller and gets exactly what
// matching policies grant: a certificate carries no scopes, so no policy, no access.
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { ServerTlsConfig } from '../config/schema.ts';
import { accessFor, type PolicyConfig } from './policy.ts';
import { grantsFromClaims } from './scopes.ts';
import type { Principal } from './verify.ts';

export const CERT_CLAIM_PREFIX = 'cert_';

/** The claims of a client certificate. */
export interface CertificateClaims {
  /** The subject DN, RFC 4514 order reversed as OpenSSL prints it: `C=…, O=…, CN=…`. */
  cert_subject: string;
  cert_cn?: string;
  /** URI SANs (a SPIFFE ID is one). */
  cert_uri: string[];
  cert_dns: string[];
  cert_email: string[];
  cert_issuer: string;
  /** SHA-256 of the DER certificate, colon-separated hex as Node prints it. */
  cert_fingerprint: string;
}

type DnObject = Record<string, string | string[] | undefined>;

// RFC 4514's escapes for the characters that would let a value pose as another attribute
// (a CN of `x, O=platform` must not match a policy on `O=platform`).
const escapeDnValue = (v: string): string => v.replace(/[,+"\\<>;=]/g, '\\$&');

const dnText = (dn: DnObject | undefined): string =>
  Object.entries(dn ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => `${k}=${escapeDnValue(x)}`))
    .join(', ');

// Node's subjectaltname: `DNS:a, URI:spiffe://x/y, IP Address:1.2.3.4`; a value with a comma or
// a quote in it is written as a JSON string (since Node 17.3), so it cannot split an entry.
const SAN_ENTRY = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;

/** The SANs of a certificate by type (`URI`, `DNS`, `email`, `IP Address`). */
export function subjectAltNames(text: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of (text ?? '').matchAll(SAN_ENTRY)) {
    let value = m[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), value]);
  }
  return out;
}

/** The claims a client certificate gives its caller (a pure function of what Node reports). */
export function certificateClaims(peer: Pick<PeerCertificate, 'subject' | 'issuer' | 'subjectaltname' | 'fingerprint256'>): CertificateClaims {
  const sans = subjectAltNames(peer.subjectaltname);
  const cn = (peer.subject as DnObject | undefined)?.CN;
  const claims: CertificateClaims = {
    cert_subject: dnText(peer.subject as DnObject),
    cert_uri: sans.get('URI') ?? [],
    cert_dns: sans.get('DNS') ?? [],
    cert_email: sans.get('email') ?? [],
    cert_issuer: dnText(peer.issuer as DnObject),
    cert_fingerprint: peer.fingerprint256,
  };
  const first = Array.isArray(cn) ? cn[0] : cn;
  if (first !== undefined) claims.cert_cn = first;
  return claims;
}

/**
 * Policies that match cert_* claims while no client certificate is asked for (client_auth none):
 * only a token's claims of the same name could match them, so they are refused at load.
 */
export function certificatePolicyProblems(policies: readonly PolicyConfig[], clientAuth: string): Array<[string, string]> {
  if (clientAuth !== 'none') return [];
  return policies.flatMap((p, i) =>
    Object.keys(p.match)
      .filter((claim) => claim.startsWith(CERT_CLAIM_PREFIX))
      .map((claim): [string, string] => [`auth.policies[${i}].match.${claim}`, 'matches a client certificate claim, but server.tls.client_auth is none (no certificate is asked for)']),
  );
}

/** A token's claims without cert_* (only a certificate may set those). */
function tokenClaimsOnly(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([k]) => !k.startsWith(CERT_CLAIM_PREFIX)));
}

interface SocketIdentity {
  claims: CertificateClaims;
  notAfter: number;
  alone: Principal | undefined;
  /** The last token principal seen on this connection and its merge (keep-alive: one token, many requests). */
  token: Principal | undefined;
  merged: Principal | undefined;
}

/** Principals from the verified client certificate of a request's connection. */
export class ClientCertificates {
  private readonly certificateOnly: boolean;
  private readonly policies: readonly PolicyConfig[];
  private readonly bySocket = new WeakMap<object, SocketIdentity | null>();

  constructor(tls: Pick<ServerTlsConfig, 'certificate_only'>, policies: readonly PolicyConfig[]) {
    this.certificateOnly = tls.certificate_only;
    this.policies = policies;
  }

  /** The verified certificate of a connection (once per connection), or null: none, unverified, or expired since. */
  private identity(socket: Socket): SocketIdentity | null {
    let id = this.bySocket.get(socket);
    if (id === undefined) {
      const tls = socket as Partial<TLSSocket>;
      const peer = tls.authorized === true && typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : undefined;
      id = peer && peer.fingerprint256 ? { claims: certificateClaims(peer), notAfter: Date.parse(peer.valid_to), alone: undefined, token: undefined, merged: undefined } : null;
      this.bySocket.set(socket, id);
    }
    return id && id.notAfter > Date.now() ? id : null;
  }

  /**
   * The caller of a request: `token` (its principal, or null when the request has no token) with the
   * certificate's claims joined, the certificate alone (certificate_only), or null: no caller.
   */
  principal(socket: Socket, token: Principal | null): Principal | null {
    const id = this.identity(socket);
    if (!token) {
      if (!id || !this.certificateOnly) return null;
      id.alone ??= this.alone(id);
      return id.alone;
    }
    if (id && token === id.alone) return token; // the certificate-only caller, already complete
    if (!id) {
      // No certificate: a token's cert_* claims still must not match a cert_* policy.
      return Object.keys(token.claims).some((k) => k.startsWith(CERT_CLAIM_PREFIX)) ? this.merge(token, null) : token;
    }
    if (id.token !== token) {
      id.token = token;
      id.merged = this.merge(token, id);
    }
    return id.merged!;
  }

  private merge(token: Principal, id: SocketIdentity | null): Principal {
    const own = tokenClaimsOnly(token.claims);
    const claims = id ? { ...own, ...id.claims } : own;
    return { ...token, claims, access: accessFor(claims, grantsFromClaims(own), this.policies) };
  }

  private alone(id: SocketIdentity): Principal {
    const c = id.claims;
    const subject = c.cert_uri[0] ?? c.cert_cn ?? c.cert_subject;
    return {
      subject,
      issuer: c.cert_issuer,
      claims: { ...c },
      // A certificate carries no scopes: only policies grant it anything.
      access: accessFor({ ...c }, [], this.policies),
      airflow: null,
      expiresAt: id.notAfter,
      rateLimitKey: `cert|${c.cert_fingerprint}`,
    };
  }
}
