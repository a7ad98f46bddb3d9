/**
 * Raw SigV4-signed HTTP requests, for tests that must control what an SDK would not let them:
 * the signing time, a tampered body or header after signing, an unknown region or service.
 * Signed with the official signer (@smithy/signature-v4) and sent with fetch.
 */
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { TEST_CREDENTIALS, type Credentials } from './server.js';

export interface SignOptions {
  credentials?: Credentials;
  region?: string;
  service?: string;
  signingDate?: Date;
  /** Extra headers to sign along. */
  headers?: Record<string, string>;
}

export interface RawResponse {
  status: number;
  body: string;
  /** `<Code>` of an error body, if any. */
  code?: string;
}

const signer = (o: SignOptions) =>
  new SignatureV4({
    credentials: o.credentials ?? TEST_CREDENTIALS,
    region: o.region ?? 'us-east-1',
    service: o.service ?? 'ec2',
    sha256: Hash.bind(null, 'sha256'),
  });

/** A form-encoded EC2 Query body: `Action=…&Version=2016-11-15&…`. */
export function queryBody(action: string | undefined, params: Record<string, string> = {}, version = '2016-11-15'): string {
  const p = new URLSearchParams();
  if (action !== undefined) p.set('Action', action);
  if (version) p.set('Version', version);
  for (const [k, v] of Object.entries(params)) p.set(k, v);
  return p.toString();
}

/** Builds and signs `POST /` with `body`; returns the signed request (headers and body may be changed before sending). */
export async function signPost(url: string, body: string, o: SignOptions = {}): Promise<HttpRequest> {
  const u = new URL(url);
  const req = new HttpRequest({
    method: 'POST',
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: '/',
    headers: { host: u.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...o.headers },
    body,
  });
  return (await signer(o).sign(req, { signingDate: o.signingDate })) as HttpRequest;
}

/** A presigned GET URL for an EC2 Query call. */
export async function presignGet(url: string, query: Record<string, string>, expiresIn: number, o: SignOptions = {}): Promise<string> {
  const u = new URL(url);
  const req = new HttpRequest({
    method: 'GET',
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: '/',
    query,
    headers: { host: u.host },
  });
  const signed = await signer(o).presign(req, { expiresIn, signingDate: o.signingDate });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(signed.query ?? {})) for (const one of [v].flat()) if (one !== null) q.append(k, one);
  return `${u.origin}/?${q.toString().replace(/\+/g, '%20')}`;
}

/** Sends a signed (or deliberately unsigned) request and reads the answer. */
export async function send(url: string, req: { method: string; headers: Record<string, string>; body?: unknown }): Promise<RawResponse> {
  const headers = { ...req.headers };
  delete headers.host; // fetch sets Host from the URL, to the same value
  const res = await fetch(url, { method: req.method, headers, body: req.body as string | undefined });
  return parse(res);
}

export async function parse(res: Response): Promise<RawResponse> {
  const body = await res.text();
  return { status: res.status, body, code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1] };
}

/** Signs and sends an EC2 Query call in one step. */
export async function signedCall(url: string, body: string, o: SignOptions = {}): Promise<RawResponse> {
  const req = await signPost(url, body, o);
  return send(url, req);
}
