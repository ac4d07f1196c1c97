// A tiny in-process, loopback-only stand-in for the one Kubernetes API call the
// OpenBao kubernetes auth method makes: POST /apis/authentication.k8s.io/v1/tokenreviews.
// It also issues the service-account JWTs (RS256-signed) that a pod would carry.
//
// OpenBao is pointed at it with kubernetes_host=http://127.0.0.1:PORT and
// disable_local_ca_jwt=true (no TLS, no in-pod files needed).
import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { startHttpServer, type HttpHandler } from './http.ts';

export interface ServiceAccountToken {
  jwt: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface TokenReviewServer {
  readonly host: string;
  readonly port: number;
  /** http://127.0.0.1:PORT — use as kubernetes_host. */
  readonly url: string;
  /** PEM public key that verifies the issued JWTs (for pem_keys, optional). */
  readonly publicKeyPem: string;
  /** Value for kubernetes_ca_cert (required by OpenBao, unused over http). */
  readonly caCertPem: string;
  /** The JWT OpenBao presents as its own token_reviewer_jwt. */
  readonly reviewerJwt: string;
  /** Number of TokenReview calls received. */
  readonly reviews: number;
  /** Issue a legacy-style service-account token (accepted by reviews until revoked). */
  issueToken(namespace: string, name: string): ServiceAccountToken;
  /** Make reviews of this token answer authenticated=false. */
  revoke(jwt: string): void;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

/**
 * OpenBao requires kubernetes_ca_cert when disable_local_ca_jwt=true, even for an
 * http:// host where it is never used. This self-signed CA (its key was thrown
 * away) fills that field; it trusts nothing.
 */
export const UNUSED_KUBERNETES_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBrjCCAVWgAwIBAgIUfre6jfFRQHB99kS2Zud6EEm5gzwwCgYIKoZIzj0EAwIw
LDEqMCgGA1UEAwwhc2VjcmV0cy1nYXRld2F5LWhhcm5lc3MtdW51c2VkLWNhMCAX
DTI2MTEyNDA2MDExNFoYDzIxMjYxMDMxMDYwMTE0WjAsMSowKAYDVQQDDCFzZWNy
ZXRzLWdhdGV3YXktaGFybmVzcy11bnVzZWQtY2EwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARuwtwy88wCzIss/SfAKLYIA50zdf8fiakEw5sHLf2WyJsbxMCkgPm6
dJV3Zb+jFV8fxAmkYNFUIu95V3/VWXPqo1MwUTAdBgNVHQ4EFgQULSVtwZLaSRbJ
XWLYMictuF+BR8IwHwYDVR0jBBgwFoAULSVtwZLaSRbJXWLYMictuF+BR8IwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBgBauyNen4+cQ//HU3rtW2
1NA7Tf//Iv6WwvL1WnDwZwIgD9zg2HK94DACB28M04loh5Us6VT9r7njmGBaMi4W
nK8=
-----END CERTIFICATE-----
`;

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export async function startTokenReviewServer(opts: { port?: number } = {}): Promise<TokenReviewServer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const valid = new Map<string, ServiceAccountToken>();
  let reviews = 0;

  const sign = (claims: Record<string, unknown>): string => {
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'harness' }));
    const body = b64url(JSON.stringify(claims));
    const s = createSign('RSA-SHA256');
    s.update(`${head}.${body}`);
    return `${head}.${body}.${b64url(s.sign(privateKey))}`;
  };

  const issueToken = (namespace: string, name: string): ServiceAccountToken => {
    const uid = randomUUID();
    const jwt = sign({
      iss: 'kubernetes/serviceaccount',
      sub: `system:serviceaccount:${namespace}:${name}`,
      'kubernetes.io/serviceaccount/namespace': namespace,
      'kubernetes.io/serviceaccount/secret.name': `${name}-token`,
      'kubernetes.io/serviceaccount/service-account.name': name,
      'kubernetes.io/serviceaccount/service-account.uid': uid,
    });
    const t = { jwt, namespace, name, uid };
    valid.set(jwt, t);
    return t;
  };
  const reviewer = issueToken('kube-system', 'token-reviewer');

  const handler: HttpHandler = (req, res, body) => {
    const send = (code: number, obj: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (req.method !== 'POST' || req.url !== '/apis/authentication.k8s.io/v1/tokenreviews') {
      send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${reviewer.jwt}`) {
      send(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
      return;
    }
    reviews += 1;
    let token = '';
    let audiences: string[] = [];
    try {
      const parsed = JSON.parse(body) as { spec?: { token?: string; audiences?: string[] } };
      token = parsed.spec?.token ?? '';
      audiences = parsed.spec?.audiences ?? [];
    } catch {
      send(400, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400 });
      return;
    }
    const sa = valid.get(token);
    const status =
      sa === undefined
        ? { authenticated: false, error: 'token not valid' }
        : {
            authenticated: true,
            user: { username: `system:serviceaccount:${sa.namespace}:${sa.name}`, uid: sa.uid, groups: ['system:serviceaccounts'] },
            audiences,
          };
    send(201, { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: {}, spec: { token, audiences }, status });
  };

  const server = await startHttpServer({ ...(opts.port !== undefined ? { port: opts.port } : {}), handler });

  return {
    host: server.host,
    port: server.port,
    url: server.url,
    publicKeyPem,
    caCertPem: UNUSED_KUBERNETES_CA_PEM,
    reviewerJwt: reviewer.jwt,
    get reviews() {
      return reviews;
    },
    issueToken,
    revoke: (jwt: string) => {
      valid.delete(jwt);
    },
    stop: () => server.stop(),
    restart: () => server.restart(),
  };
}
