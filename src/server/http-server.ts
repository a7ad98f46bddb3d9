/** The one HTTP listener for every service, plus Nimbus's own routes under /_nimbus/. */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ApiError } from '../protocol/errors.js';
import type { EncodedBody, WireRequest, WireResponse } from '../protocol/types.js';
import { newRequestId } from '../util/ids.js';
import type { Dispatcher } from './dispatcher.js';
import type { WireProtocol } from '../protocol/types.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  /** Answers for routes under /_nimbus/ (health, admin). */
  admin: (path: string) => Promise<{ status: number; body: unknown; contentType?: string } | undefined>;
  /** Used to answer requests rejected before routing (body too large). */
  errorProtocol: WireProtocol;
  /** Told of every request as it arrives. */
  onRequest?: () => void;
}

export class HttpServer {
  private readonly server: http.Server;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly opts: HttpServerOptions,
  ) {
    // Node checks request and header deadlines only every connectionsCheckingInterval (30 s by
    // default): check often enough that a short timeout is enforced close to when it is due.
    const checkEveryMs = Math.max(100, Math.min(1000, Math.floor(opts.requestTimeoutMs / 4)));
    this.server = http.createServer({ keepAlive: true, connectionsCheckingInterval: checkEveryMs }, (req, res) => void this.handle(req, res));
    this.server.requestTimeout = opts.requestTimeoutMs;
    this.server.headersTimeout = Math.min(opts.requestTimeoutMs, 20_000);
    // Longer than any client pool keeps an idle socket (AWS keeps connections open for minutes), so
    // a client never reuses a socket the server is just closing.
    this.server.keepAliveTimeout = 120_000;
    // Requests that are not valid HTTP still get EC2's error body rather than Node's bare 400.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
      const apiErr = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new ApiError('RequestTimeout', 'The request was not received in time.', 408)
        : new ApiError('MalformedQueryString', 'The request is not valid HTTP.', 400);
      const r = opts.errorProtocol.encodeError(apiErr, newRequestId());
      const head = [`HTTP/1.1 ${apiErr.status} ${http.STATUS_CODES[apiErr.status]}`, ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`)];
      const body = bodyBuffers(r.body);
      head.push(`content-length: ${body.length}`, 'connection: close');
      socket.write(`${head.join('\r\n')}\r\n\r\n`);
      for (const chunk of body.chunks) socket.write(chunk);
      socket.end();
    });
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolvePromise, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolvePromise(this.server.address() as AddressInfo);
      });
    });
  }

  /** Serves a connection that came from an instance (see instance-endpoint.ts). */
  acceptFromInstance(socket: Socket): void {
    FROM_INSTANCE.add(socket);
    this.server.emit('connection', socket);
  }

  close(): Promise<void> {
    return new Promise((resolvePromise) => {
      this.server.close(() => resolvePromise());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.opts.onRequest?.();
    try {
      const url = requestUrl(req.url);
      // The operator's routes are the host's: instances reach only the API.
      if (url.pathname.startsWith('/_nimbus/') && !FROM_INSTANCE.has(req.socket)) {
        const answer = await this.opts.admin(url.pathname);
        if (answer) {
          const text = answer.contentType !== undefined;
          return send(res, {
            status: answer.status,
            headers: { 'content-type': answer.contentType ?? 'application/json' },
            body: text ? String(answer.body) : JSON.stringify(answer.body),
          });
        }
      }
      const body = await readBody(req, this.opts.maxBodyBytes);
      const wire: WireRequest = {
        method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, fromInstance: FROM_INSTANCE.has(req.socket),
      };
      send(res, await this.dispatcher.dispatch(wire));
    } catch (err) {
      const apiErr = err instanceof ApiError ? err : new ApiError('InternalError', 'An internal error has occurred', 500);
      // A body that is too large is still read to its end (and dropped), not cut off: closing a socket
      // with data still arriving resets it, and the client would see a broken connection, not the 413.
      send(res, this.opts.errorProtocol.encodeError(apiErr, newRequestId()));
    }
  }
}

/** Connections that came from instances. */
const FROM_INSTANCE = new WeakSet<Socket>();

/** The request target's path and query; a target that is not one is the client's error, not a crash. */
function requestUrl(target: string | undefined): Pick<URL, 'pathname' | 'searchParams'> {
  // Nearly every API call is a POST to `/`: no URL to parse.
  if (target === '/' || target === undefined) return { pathname: '/', searchParams: new URLSearchParams() };
  try {
    return new URL(target, 'http://localhost');
  } catch {
    throw new ApiError('MalformedQueryString', 'The request URI is not valid.', 400);
  }
}

function bodyBuffers(body: WireResponse['body']): EncodedBody {
  if (typeof body !== 'string') return body;
  const chunk = Buffer.from(body, 'utf8');
  return { chunks: [chunk], length: chunk.length };
}

/** Sends the answer; a large one goes out buffer by buffer as serialized, never joined into one. */
function send(res: http.ServerResponse, r: WireResponse): void {
  if (res.headersSent) return;
  const body = bodyBuffers(r.body);
  res.writeHead(r.status, { ...r.headers, 'content-length': body.length });
  const last = body.chunks.length - 1;
  for (let i = 0; i < last; i++) res.write(body.chunks[i]);
  res.end(last >= 0 ? body.chunks[last] : undefined);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () =>
      new ApiError('RequestEntityTooLarge', `Request body exceeds the maximum size of ${limit} bytes.`, 413);
    if (declared > limit) {
      req.resume();
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => resolvePromise(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
