// In-memory Secret Manager v1 data model with the service's validation and
// error semantics. Objects use the proto field names (snake_case), as
// @grpc/proto-loader with keepCase: true expects.
//
// `latest` follows the real service: it is an alias of the most recently
// created version; if that version is DISABLED or DESTROYED, access fails with
// FAILED_PRECONDITION. Start the server with latestResolution 'newest-enabled'
// to make `latest` skip disabled/destroyed versions instead.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { crc32c } from './crc32c.ts';

export type StatusName =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

export const STATUS_CODES: Record<StatusName, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

export class RpcError extends Error {
  readonly status: StatusName;
  constructor(status: StatusName, message: string) {
    super(message);
    this.status = status;
  }
}

export interface Timestamp {
  seconds: string;
  nanos: number;
}

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

interface VersionRecord {
  number: number;
  createTime: Timestamp;
  destroyTime?: Timestamp;
  state: VersionState;
  data?: string; // base64; absent once destroyed
  crc32c?: string;
  clientChecksum: boolean;
  etag: string;
}

interface SecretRecord {
  name: string;
  fields: Record<string, unknown>; // user-settable Secret fields (replication, labels, annotations, ...)
  createTime: Timestamp;
  etag: string;
  nextVersion: number;
  versions: VersionRecord[];
}

export type LatestResolution = 'newest-created' | 'newest-enabled';

const SECRET_ID = /^[a-zA-Z0-9_-]{1,255}$/;
const PARENT = /^projects\/([^/]+)(?:\/locations\/([^/]+))?$/;
const SECRET_NAME = /^(projects\/[^/]+(?:\/locations\/[^/]+)?)\/secrets\/([^/]+)$/;
const VERSION_NAME = /^(projects\/[^/]+(?:\/locations\/[^/]+)?\/secrets\/[^/]+)\/versions\/([^/]+)$/;
const MAX_PAYLOAD = 64 * 1024;
const SETTABLE_FIELDS = [
  'replication',
  'labels',
  'topics',
  'expire_time',
  'ttl',
  'etag',
  'rotation',
  'version_aliases',
  'annotations',
  'version_destroy_ttl',
  'customer_managed_encryption',
  'tags',
  'secret_type',
];

function now(): Timestamp {
  const ms = Date.now();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

function newEtag(): string {
  return `"${randomBytes(8).toString('hex')}"`;
}

function checkProject(p: string, what: string): void {
  if (p === '' || !/^[a-z0-9][a-z0-9-]{0,62}$|^\d+$/.test(p)) {
    throw new RpcError('INVALID_ARGUMENT', `Invalid ${what}: project [${p}] is not a valid project id or number.`);
  }
}

function checkSecretId(id: string, full: string): void {
  if (!SECRET_ID.test(id)) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Invalid resource field value in the request: secret id [${id}] in [${full}] must be 1-255 characters of letters, numbers, hyphens and underscores.`,
    );
  }
}

export function parseParent(parent: string): string {
  const m = PARENT.exec(parent ?? '');
  if (m === null) throw new RpcError('INVALID_ARGUMENT', `Invalid parent [${parent}]: expected projects/* or projects/*/locations/*.`);
  checkProject(m[1] as string, 'parent');
  return parent;
}

export function parseSecretName(name: string): { parent: string; id: string } {
  const m = SECRET_NAME.exec(name ?? '');
  if (m === null) throw new RpcError('INVALID_ARGUMENT', `Invalid resource name [${name}]: expected projects/*/secrets/*.`);
  const parent = parseParent(m[1] as string);
  checkSecretId(m[2] as string, name);
  return { parent, id: m[2] as string };
}

export function parseVersionName(name: string): { secret: string; version: 'latest' | number } {
  const m = VERSION_NAME.exec(name ?? '');
  if (m === null) throw new RpcError('INVALID_ARGUMENT', `Invalid resource name [${name}]: expected projects/*/secrets/*/versions/*.`);
  const secret = m[1] as string;
  parseSecretName(secret);
  const v = m[2] as string;
  if (v === 'latest') return { secret, version: 'latest' };
  if (!/^[1-9]\d{0,17}$/.test(v)) {
    throw new RpcError('INVALID_ARGUMENT', `Invalid resource name [${name}]: version must be a positive integer or "latest".`);
  }
  return { secret, version: Number(v) };
}

export interface StoreOptions {
  stateFile?: string;
  latestResolution?: LatestResolution;
}

export class SecretStore {
  private secrets = new Map<string, SecretRecord>();
  private readonly stateFile: string | undefined;
  latestResolution: LatestResolution;

  constructor(opts: StoreOptions = {}) {
    this.stateFile = opts.stateFile;
    this.latestResolution = opts.latestResolution ?? 'newest-created';
    if (this.stateFile !== undefined && existsSync(this.stateFile)) {
      const raw = JSON.parse(readFileSync(this.stateFile, 'utf8')) as { secrets: SecretRecord[] };
      for (const s of raw.secrets) this.secrets.set(s.name, s);
    }
  }

  private persist(): void {
    if (this.stateFile === undefined) return;
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ secrets: [...this.secrets.values()] }));
    renameSync(tmp, this.stateFile);
  }

  reset(): void {
    this.secrets.clear();
    this.persist();
  }

  dump(): unknown {
    return { secrets: [...this.secrets.values()].map((s) => ({ ...s, versions: s.versions.map((v) => ({ ...v, data: v.data === undefined ? undefined : '(redacted)' })) })) };
  }

  private secretOut(s: SecretRecord): Record<string, unknown> {
    return { ...s.fields, name: s.name, create_time: s.createTime, etag: s.etag };
  }

  private versionOut(s: SecretRecord, v: VersionRecord): Record<string, unknown> {
    const out: Record<string, unknown> = {
      name: `${s.name}/versions/${v.number}`,
      create_time: v.createTime,
      state: v.state,
      etag: v.etag,
      client_specified_payload_checksum: v.clientChecksum,
      replication_status: replicationStatus(s.fields['replication']),
    };
    if (v.destroyTime !== undefined) out['destroy_time'] = v.destroyTime;
    return out;
  }

  private getSecretRecord(name: string): SecretRecord {
    parseSecretName(name);
    const s = this.secrets.get(name);
    if (s === undefined) throw new RpcError('NOT_FOUND', `Secret [${name}] not found.`);
    return s;
  }

  private resolveVersion(name: string, forAccess: boolean): { s: SecretRecord; v: VersionRecord } {
    const { secret, version } = parseVersionName(name);
    const s = this.secrets.get(secret);
    if (s === undefined) {
      throw new RpcError('NOT_FOUND', version === 'latest' ? `Secret [${secret}] not found or has no versions.` : `Secret Version [${name}] not found.`);
    }
    let v: VersionRecord | undefined;
    if (version === 'latest') {
      const candidates =
        this.latestResolution === 'newest-enabled' && forAccess ? s.versions.filter((x) => x.state === 'ENABLED') : s.versions;
      v = candidates.reduce<VersionRecord | undefined>((a, b) => (a === undefined || b.number > a.number ? b : a), undefined);
      if (v === undefined) throw new RpcError('NOT_FOUND', `Secret [${secret}] not found or has no versions.`);
    } else {
      v = s.versions.find((x) => x.number === version);
      if (v === undefined) throw new RpcError('NOT_FOUND', `Secret Version [${name}] not found.`);
    }
    return { s, v };
  }

  createSecret(req: { parent: string; secret_id: string; secret?: Record<string, unknown> }): Record<string, unknown> {
    const parent = parseParent(req.parent);
    if (!req.secret_id) throw new RpcError('INVALID_ARGUMENT', 'secret_id is required.');
    const name = `${parent}/secrets/${req.secret_id}`;
    checkSecretId(req.secret_id, name);
    if (this.secrets.has(name)) throw new RpcError('ALREADY_EXISTS', `Secret [${name}] already exists.`);
    const fields: Record<string, unknown> = {};
    for (const k of SETTABLE_FIELDS) {
      const val = req.secret?.[k];
      if (val !== undefined && val !== null && k !== 'etag') fields[k] = val;
    }
    if (fields['replication'] === undefined && !parent.includes('/locations/')) fields['replication'] = { automatic: {} };
    const rec: SecretRecord = { name, fields, createTime: now(), etag: newEtag(), nextVersion: 1, versions: [] };
    this.secrets.set(name, rec);
    this.persist();
    return this.secretOut(rec);
  }

  getSecret(name: string): Record<string, unknown> {
    return this.secretOut(this.getSecretRecord(name));
  }

  updateSecret(req: { secret?: Record<string, unknown>; update_mask?: { paths?: string[] } }): Record<string, unknown> {
    const name = String(req.secret?.['name'] ?? '');
    const s = this.getSecretRecord(name);
    const paths = req.update_mask?.paths ?? [];
    if (paths.length === 0) throw new RpcError('INVALID_ARGUMENT', 'update_mask is required.');
    const etag = req.secret?.['etag'];
    if (typeof etag === 'string' && etag !== '' && etag !== s.etag) throw new RpcError('ABORTED', `etag mismatch for [${name}].`);
    for (const p of paths) {
      if (!SETTABLE_FIELDS.includes(p) || p === 'replication' || p === 'etag') {
        throw new RpcError('INVALID_ARGUMENT', `update_mask path [${p}] is not supported.`);
      }
      const val = req.secret?.[p];
      if (val === undefined || val === null) delete s.fields[p];
      else s.fields[p] = val;
    }
    s.etag = newEtag();
    this.persist();
    return this.secretOut(s);
  }

  deleteSecret(req: { name: string; etag?: string }): void {
    const s = this.getSecretRecord(req.name);
    if (req.etag && req.etag !== s.etag) throw new RpcError('ABORTED', `etag mismatch for [${req.name}].`);
    this.secrets.delete(req.name);
    this.persist();
  }

  listSecrets(req: { parent: string; page_size?: number; page_token?: string; filter?: string }): Record<string, unknown> {
    const parent = parseParent(req.parent);
    let all = [...this.secrets.values()].filter((s) => s.name.startsWith(`${parent}/secrets/`));
    all = all.filter(secretFilter(req.filter ?? ''));
    all.sort((a, b) => a.name.localeCompare(b.name));
    const { items, next } = paginate(all, req.page_size, req.page_token);
    return { secrets: items.map((s) => this.secretOut(s)), next_page_token: next, total_size: all.length };
  }

  addSecretVersion(req: { parent: string; payload?: { data?: Buffer | Uint8Array; data_crc32c?: string | number | null } }): Record<string, unknown> {
    const s = this.getSecretRecord(req.parent);
    const data = Buffer.from(req.payload?.data ?? Buffer.alloc(0));
    if (data.length > MAX_PAYLOAD) throw new RpcError('INVALID_ARGUMENT', `Secret payload must be no larger than 64KiB; got ${data.length} bytes.`);
    const actual = crc32c(data);
    const given = req.payload?.data_crc32c;
    const clientChecksum = given !== undefined && given !== null && String(given) !== '';
    if (clientChecksum && String(given) !== String(actual)) {
      throw new RpcError('INVALID_ARGUMENT', 'The checksum in field data_crc32c does not match the data in field data.');
    }
    const v: VersionRecord = {
      number: s.nextVersion,
      createTime: now(),
      state: 'ENABLED',
      data: data.toString('base64'),
      crc32c: String(actual),
      clientChecksum,
      etag: newEtag(),
    };
    s.nextVersion += 1;
    s.versions.push(v);
    this.persist();
    return this.versionOut(s, v);
  }

  getSecretVersion(name: string): Record<string, unknown> {
    const { s, v } = this.resolveVersion(name, false);
    return this.versionOut(s, v);
  }

  accessSecretVersion(name: string): Record<string, unknown> {
    const { s, v } = this.resolveVersion(name, true);
    const vname = `${s.name}/versions/${v.number}`;
    if (v.state !== 'ENABLED' || v.data === undefined) {
      throw new RpcError('FAILED_PRECONDITION', `Secret Version [${vname}] is in ${v.state} state.`);
    }
    return { name: vname, payload: { data: Buffer.from(v.data, 'base64'), data_crc32c: v.crc32c } };
  }

  private setState(req: { name: string; etag?: string }, to: VersionState): Record<string, unknown> {
    const { s, v } = this.resolveVersion(req.name, false);
    if (req.etag && req.etag !== v.etag) throw new RpcError('ABORTED', `etag mismatch for [${req.name}].`);
    const vname = `${s.name}/versions/${v.number}`;
    if (v.state === 'DESTROYED' && to !== 'DESTROYED') {
      throw new RpcError('FAILED_PRECONDITION', `Secret Version [${vname}] is in DESTROYED state.`);
    }
    if (to === 'DESTROYED') {
      if (v.state === 'DESTROYED') throw new RpcError('FAILED_PRECONDITION', `Secret Version [${vname}] is in DESTROYED state.`);
      v.destroyTime = now();
      delete v.data;
    }
    v.state = to;
    v.etag = newEtag();
    this.persist();
    return this.versionOut(s, v);
  }

  disableSecretVersion(req: { name: string; etag?: string }): Record<string, unknown> {
    return this.setState(req, 'DISABLED');
  }

  enableSecretVersion(req: { name: string; etag?: string }): Record<string, unknown> {
    return this.setState(req, 'ENABLED');
  }

  destroySecretVersion(req: { name: string; etag?: string }): Record<string, unknown> {
    return this.setState(req, 'DESTROYED');
  }

  listSecretVersions(req: { parent: string; page_size?: number; page_token?: string; filter?: string }): Record<string, unknown> {
    const s = this.getSecretRecord(req.parent);
    const filter = (req.filter ?? '').trim();
    let all = [...s.versions].sort((a, b) => b.number - a.number);
    if (filter !== '') {
      const m = /^state\s*[:=]\s*(ENABLED|DISABLED|DESTROYED)$/i.exec(filter);
      if (m === null) throw new RpcError('UNIMPLEMENTED', `The emulator supports only filter "state:ENABLED|DISABLED|DESTROYED", not [${filter}].`);
      const want = (m[1] as string).toUpperCase();
      all = all.filter((v) => v.state === want);
    }
    const { items, next } = paginate(all, req.page_size, req.page_token);
    return { versions: items.map((v) => this.versionOut(s, v)), next_page_token: next, total_size: all.length };
  }
}

function replicationStatus(replication: unknown): Record<string, unknown> {
  const r = replication as { user_managed?: { replicas?: { location?: string }[] } } | undefined;
  if (r?.user_managed !== undefined && r.user_managed !== null) {
    return { user_managed: { replicas: (r.user_managed.replicas ?? []).map((x) => ({ location: x.location ?? '' })) } };
  }
  return { automatic: {} };
}

function secretFilter(filter: string): (s: SecretRecord) => boolean {
  const f = filter.trim();
  if (f === '') return () => true;
  let m = /^name\s*:\s*"?([^"]*)"?$/.exec(f);
  if (m !== null) {
    const needle = m[1] as string;
    return (s) => s.name.split('/').pop()!.includes(needle);
  }
  m = /^labels\.([a-z0-9_-]+)\s*([:=])\s*"?([^"]*)"?$/.exec(f);
  if (m !== null) {
    const [, key, op, val] = m as unknown as [string, string, string, string];
    return (s) => {
      const labels = (s.fields['labels'] ?? {}) as Record<string, string>;
      if (!(key in labels)) return false;
      return op === ':' && val === '*' ? true : labels[key] === val;
    };
  }
  throw new RpcError('UNIMPLEMENTED', `The emulator supports only "name:X" and "labels.K=V" / "labels.K:*" filters, not [${f}].`);
}

function paginate<T>(all: T[], pageSize: number | undefined, pageToken: string | undefined): { items: T[]; next: string } {
  let offset = 0;
  if (pageToken) {
    const decoded = Number(Buffer.from(pageToken, 'base64url').toString('utf8').replace(/^offset:/, ''));
    if (!Number.isInteger(decoded) || decoded < 0) throw new RpcError('INVALID_ARGUMENT', `Invalid page_token [${pageToken}].`);
    offset = decoded;
  }
  const size = pageSize && pageSize > 0 ? Math.min(pageSize, 25000) : 25000;
  const items = all.slice(offset, offset + size);
  const nextOffset = offset + items.length;
  const next = nextOffset < all.length ? Buffer.from(`offset:${nextOffset}`).toString('base64url') : '';
  return { items, next };
}
