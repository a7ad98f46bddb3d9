/**
 * The fuzz test's transport: signs a request exactly as it will go on the wire (SigV4 with
 * test/test, by the official signer) and sends it with node:http, which, unlike fetch, adds no
 * Content-Type of its own and lets a body be raw bytes.
 */
import http from 'node:http';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { TEST_CREDENTIALS } from './server.js';

export interface WireCall {
  method: 'GET' | 'POST';
  /** Request path, already percent-encoded as it goes on the wire. */
  path: string;
  /** GET only: parameters signed and sent in the query string. */
  query?: [string, string][];
  /** Content-Type header; none when undefined. */
  contentType?: string;
  body: Buffer;
}

export interface WireAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const signer = new SignatureV4({
  credentials: TEST_CREDENTIALS,
  region: 'us-east-1',
  service: 'ec2',
  sha256: Hash.bind(null, 'sha256'),
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** RFC 3986 escaping, as SigV4 canonicalises query strings. */
const escape = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Signs `call` for the server at `url` and sends it. */
export async function sendSigned(url: string, call: WireCall): Promise<WireAnswer> {
  const u = new URL(url);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of call.query ?? []) {
    const prev = query[k];
    query[k] = prev === undefined ? v : [prev, v].flat();
  }
  const headers: Record<string, string> = { host: u.host };
  if (call.contentType !== undefined) headers['content-type'] = call.contentType;
  const signed = await signer.sign(
    new HttpRequest({ method: call.method, protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: call.path, query, headers, body: call.body }),
  );
  // The signer escapes the path itself; the canonical form must match what the server sees.
  const qs = (call.query ?? []).map(([k, v]) => `${escape(k)}=${escape(v)}`).join('&');
  return request(u, `${call.path}${qs ? `?${qs}` : ''}`, call.method, signed.headers as Record<string, string>, call.body);
}

function request(u: URL, path: string, method: string, headers: Record<string, string>, body: Buffer): Promise<WireAnswer> {
  return new Promise((resolveAnswer, reject) => {
    const req = http.request(
      { agent, host: u.hostname, port: u.port, method, path, headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolveAnswer({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** True while the server answers its health route. */
export async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/_nimbus/health`);
    return res.status === 200 && ((await res.json()) as { status?: string }).status === 'ok';
  } catch {
    return false;
  }
}

export function closeAgent(): void {
  agent.destroy();
}
