/**
 * The Instance Metadata Service. It listens on 169.254.169.254:80 inside every VPC namespace (the
 * network controller hands it those sockets) and answers each instance about itself alone: the
 * caller is the connection's source address in that VPC (caller.ts), never a header.
 *
 * IMDSv2: `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1–21600) gives a
 * token for this instance; a PUT carrying `X-Forwarded-For` is refused (a proxy in front must not
 * get one). With `HttpTokens=required`, requests without a valid token get 401. `HttpEndpoint=
 * disabled` gets no answer at all, and the hop limit is the IP TTL of the answers (set by the
 * VPC's nftables rules), so a token does not reach past it.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { resolveCaller, type Caller, type VpcEndpoint } from './caller.js';
import { IdentitySigner, identityDocument } from './identity.js';
import { MAX_TTL_SECONDS, MIN_TTL_SECONDS, TokenIssuer } from './tokens.js';
import { LISTINGS, metadataTree, type MetadataNode, type RoleMetadata } from './tree.js';

export const METADATA_IP = '169.254.169.254';
/** The IPv6 address of the metadata service (for instances with IPv6 and HttpProtocolIpv6=enabled). */
export const METADATA_IPV6 = 'fd00:ec2::254';
export const METADATA_PORT = 80;

const VERSIONS = [
  '1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01', '2009-04-04',
  '2011-01-01', '2011-05-01', '2012-01-12', '2014-02-25', '2014-11-05', '2015-10-20', '2016-04-19', '2016-06-30', '2016-09-02',
  '2018-03-28', '2018-08-17', '2018-09-24', '2019-10-01', '2020-10-27', '2021-01-03', '2021-03-23', '2021-07-15', '2022-09-24',
  '2024-04-11', 'latest',
];

const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';

/** The credentials of the instance's role, when it has one (issued or rotated on demand). */
export type RoleSource = (caller: Caller, now: Date) => Promise<RoleMetadata | undefined>;

const ENDPOINT = Symbol('vpc endpoint');
type TaggedSocket = Socket & { [ENDPOINT]?: VpcEndpoint };

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed' };

/** EC2's error pages are small XHTML documents. */
function errorPage(status: number): string {
  const title = `${status} - ${STATUS_TEXT[status]}`;
  return `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>${title}</title>
 </head>
 <body>
  <h1>${title}</h1>
 </body>
</html>
`;
}

export class MetadataService {
  private readonly http: HttpServer;
  private readonly tokens: TokenIssuer;
  readonly identity: IdentitySigner;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    dataDir: string,
    private readonly roles?: RoleSource,
  ) {
    this.tokens = new TokenIssuer(join(dataDir, 'imds', 'token-key'));
    this.identity = new IdentitySigner(join(dataDir, 'imds'));
    this.http = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        console.error('nimbus: imds:', err);
        if (!res.headersSent) this.send(res, 500, 'Internal Server Error');
        else res.destroy();
      });
    });
  }

  /** Serves a VPC's listening socket: connections on it come from that VPC's instances. */
  attach(listener: Server, at: VpcEndpoint): void {
    listener.on('connection', (socket: TaggedSocket) => {
      socket[ENDPOINT] = at;
      this.http.emit('connection', socket);
    });
  }

  private send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, {
      'Content-Type': status >= 400 ? 'text/html' : 'text/plain',
      'Content-Length': String(payload.length),
      Server: 'EC2ws',
      ...headers,
    });
    res.end(res.req.method === 'HEAD' ? undefined : payload);
  }

  private fail(res: ServerResponse, status: number): void {
    this.send(res, status, errorPage(status));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = (req.socket as TaggedSocket)[ENDPOINT];
    const source = req.socket.remoteAddress?.replace(/^::ffff:/, '');
    const caller = at && source ? await resolveCaller(this.store, at, source) : undefined;
    if (!caller) return this.fail(res, 404);
    const options = caller.instance.MetadataOptions;
    const overIpv6 = source?.includes(':') ?? false;
    if (options.HttpEndpoint === 'disabled' || (overIpv6 && options.HttpProtocolIpv6 !== 'enabled')) {
      req.socket.destroy();
      return;
    }
    const now = this.clock.now();
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/{2,}/g, '/');

    if (req.method === 'PUT') {
      if (!/^\/latest\/api\/token\/?$/.test(path)) return this.fail(res, 405);
      if (req.headers['x-forwarded-for'] !== undefined) return this.fail(res, 403);
      const raw = req.headers[TTL_HEADER];
      const ttl = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (!(ttl >= MIN_TTL_SECONDS && ttl <= MAX_TTL_SECONDS)) return this.fail(res, 400);
      const token = this.tokens.issue(caller.instance.InstanceId, ttl, now);
      return this.send(res, 200, token, { 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds': String(ttl) });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.fail(res, 405);

    const token = req.headers[TOKEN_HEADER];
    if (typeof token === 'string') {
      if (!this.tokens.valid(token, caller.instance.InstanceId, now)) return this.fail(res, 401);
    } else if (options.HttpTokens === 'required') {
      return this.fail(res, 401);
    }
    const answer = await this.answer(caller, path, now);
    if (answer === undefined) return this.fail(res, 404);
    this.send(res, 200, answer);
  }

  /** The text at `path`, or undefined for a path that does not exist. */
  private async answer(c: Caller, path: string, now: Date): Promise<string | Buffer | undefined> {
    const parts = path.split('/').filter(Boolean);
    if (parts.length === 0) return VERSIONS.join('\n');
    const [version, category, ...rest] = parts;
    if (!VERSIONS.includes(version!)) return undefined;
    const userData = c.instance.UserData ? Buffer.from(c.instance.UserData, 'base64') : undefined;
    switch (category) {
      case undefined:
        return ['dynamic', 'meta-data', ...(userData ? ['user-data'] : [])].join('\n');
      case 'user-data':
        return rest.length === 0 ? userData : undefined;
      case 'dynamic':
        return this.dynamic(c, rest);
      case 'meta-data': {
        const role = rest[0] === 'iam' && this.roles ? await this.roles(c, now) : undefined;
        const tree = metadataTree(c, role);
        // The listing of the root shows iam/ only for an instance with a profile, without issuing anything.
        if (!role && c.instance.IamInstanceProfile && rest.length === 0) tree.iam = {};
        return lookup(tree, rest);
      }
      default:
        return undefined;
    }
  }

  private dynamic(c: Caller, rest: string[]): string | undefined {
    if (rest.length === 0) return 'instance-identity/';
    if (rest[0] !== 'instance-identity') return undefined;
    if (rest.length === 1) return ['document', 'pkcs7', 'rsa2048', 'signature'].join('\n');
    if (rest.length > 2) return undefined;
    const document = identityDocument(c);
    switch (rest[1]) {
      case 'document': return document;
      case 'signature': return this.identity.signature(document);
      case 'pkcs7': case 'rsa2048': return this.identity.pkcs7(document);
      default: return undefined;
    }
  }

  close(): void {
    this.http.closeAllConnections();
  }
}

/** EC2's listing rules: a directory lists its children (subdirectories with a trailing `/`), a leaf is its text. */
function lookup(tree: Record<string, MetadataNode>, parts: readonly string[]): string | undefined {
  let node: MetadataNode = tree;
  for (const p of parts) {
    if (typeof node === 'string' || !Object.hasOwn(node, p)) return undefined;
    node = node[p]!;
  }
  if (typeof node === 'string') return node;
  const custom = LISTINGS.get(node);
  if (custom !== undefined) return custom;
  return Object.entries(node).map(([name, child]) => (typeof child === 'string' ? name : `${name}/`)).join('\n');
}
