/**
 * AWS Signature Version 4 verification, for the Authorization header and presigned query forms.
 * The signature is recomputed with the official signer (@smithy/signature-v4) over exactly the
 * headers the client says it signed, then compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { ApiError } from './errors.js';
import type { WireRequest } from './types.js';

export interface SignedIdentity {
  accessKeyId: string;
  region: string;
  service: string;
  signedAt: Date;
  signature: string;
  signedHeaders: string[];
  sessionToken?: string;
  /** Seconds of validity for presigned requests. */
  expiresIn?: number;
  presigned: boolean;
}

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;
const DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const MAX_SKEW_MS = 15 * 60 * 1000;

const incomplete = (what: string) =>
  new ApiError('IncompleteSignature', `Request is missing or has a malformed ${what}.`, 400);

function parseAmzDate(value: string | undefined): Date {
  const m = value ? DATE_RE.exec(value) : null;
  if (!m) throw incomplete('X-Amz-Date');
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

function parseCredential(credential: string) {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !parts[0]) throw incomplete('Credential');
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  return { accessKeyId, date, region, service };
}

const header = (req: WireRequest, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/** Reads who claims to have signed the request; undefined when it carries no signature at all. */
export function readSignature(req: WireRequest): SignedIdentity | undefined {
  const auth = header(req, 'authorization');
  if (auth) {
    const m = AUTH_RE.exec(auth);
    if (!m) {
      if (/^AWS4-HMAC-SHA256/.test(auth)) throw incomplete('Authorization header');
      throw new ApiError('IncompleteSignature', 'Only AWS4-HMAC-SHA256 request signatures are supported.', 400);
    }
    const cred = parseCredential(m[1]!);
    const signedAt = parseAmzDate(header(req, 'x-amz-date'));
    if (!header(req, 'x-amz-date')?.startsWith(cred.date)) throw incomplete('Credential date');
    return {
      accessKeyId: cred.accessKeyId,
      region: cred.region,
      service: cred.service,
      signedAt,
      signedHeaders: m[2]!.split(';'),
      signature: m[3]!,
      sessionToken: header(req, 'x-amz-security-token'),
      presigned: false,
    };
  }
  const q = req.query;
  if (q.get('X-Amz-Algorithm') === null && q.get('X-Amz-Signature') === null) return undefined;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw incomplete('X-Amz-Algorithm');
  const cred = parseCredential(q.get('X-Amz-Credential') ?? '');
  const signature = q.get('X-Amz-Signature') ?? '';
  if (!/^[0-9a-f]{64}$/.test(signature)) throw incomplete('X-Amz-Signature');
  const expires = Number(q.get('X-Amz-Expires'));
  if (!Number.isInteger(expires) || expires < 1 || expires > 604800) throw incomplete('X-Amz-Expires');
  return {
    accessKeyId: cred.accessKeyId,
    region: cred.region,
    service: cred.service,
    signedAt: parseAmzDate(q.get('X-Amz-Date') ?? undefined),
    signedHeaders: (q.get('X-Amz-SignedHeaders') ?? 'host').split(';'),
    signature,
    sessionToken: q.get('X-Amz-Security-Token') ?? undefined,
    expiresIn: expires,
    presigned: true,
  };
}

/** Checks the request's time window; throws RequestExpired. */
export function checkFreshness(id: SignedIdentity, now: Date): void {
  const t = id.signedAt.getTime();
  if (id.presigned) {
    if (now.getTime() > t + id.expiresIn! * 1000) {
      throw new ApiError('RequestExpired', 'Request has expired.', 400);
    }
    if (t - now.getTime() > MAX_SKEW_MS) throw new ApiError('RequestExpired', 'Request is not yet valid.', 400);
    return;
  }
  if (Math.abs(now.getTime() - t) > MAX_SKEW_MS) {
    throw new ApiError(
      'RequestExpired',
      `Request has expired. Timestamp date is ${id.signedAt.toISOString()}; server time is ${now.toISOString()}.`,
      400,
    );
  }
}

/** Recomputes the signature with the given secret and compares it with the one sent. */
export async function signatureMatches(req: WireRequest, id: SignedIdentity, secretAccessKey: string): Promise<boolean> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: id.accessKeyId, secretAccessKey, sessionToken: id.sessionToken },
    region: id.region,
    service: id.service,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
    uriEscapePath: true,
  });
  const signed = new Set(id.signedHeaders);
  const headers: Record<string, string> = {};
  for (const name of signed) {
    if (name === 'x-amz-date' || name === 'authorization') continue;
    const v = header(req, name);
    if (v !== undefined) headers[name] = v;
  }
  // The signer trusts a signed x-amz-content-sha256 as the payload's hash; it must be the body's.
  const declaredHash = headers['x-amz-content-sha256'];
  if (declaredHash !== undefined && declaredHash !== createHash('sha256').update(req.body).digest('hex')) return false;
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of req.query) {
    if (id.presigned && /^X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature|Security-Token)$/.test(k)) continue;
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return false; // a path that is not valid percent-encoding cannot have been signed
  }
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: String(req.headers.host ?? ''),
    path,
    query,
    headers,
    body: req.body.length > 0 || !id.presigned ? req.body : undefined,
  };
  let computed: string;
  if (id.presigned) {
    const out = await signer.presign(request, {
      signingDate: id.signedAt,
      expiresIn: id.expiresIn,
      signableHeaders: signed,
      unhoistableHeaders: new Set(Object.keys(headers)),
    });
    computed = String(out.query?.['X-Amz-Signature']);
  } else {
    if (!signed.has('x-amz-date') && !signed.has('date')) return false;
    const out = await signer.sign(request, { signingDate: id.signedAt, signableHeaders: signed });
    computed = /Signature=([0-9a-f]{64})/.exec(String(out.headers.authorization))![1]!;
  }
  return timingSafeEqual(Buffer.from(computed), Buffer.from(id.signature));
}
