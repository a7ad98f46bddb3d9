/** The one HTTP listener for every service, plus Nimbus's own routes under /_nimbus/. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../protocol/errors.js';
import type { WireRequest, WireResponse } from '../protocol/types.js';
import { newRequestId } from '../util/ids.js';
import type { Dispatcher } from './dispatcher.js';
import type { WireProtocol } from '../protocol/types.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  /** Answers for routes under /_nimbus/ (health, admin). */
  admin: (path: string) => Promise<{ status: number; body: unknown } | undefined>;
  /** Used to answer requests rejected before routing (body too large). */
  errorProtocol: WireProtocol;
}

export class HttpServer {
  private readonly server: http.Server;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly opts: HttpServerOptions,
  ) {
    this.server = http.createServer({ keepAlive: true }, (req, res) => void this.handle(req, res));
    this.server.requestTimeout = opts.requestTimeoutMs;
    this.server.headersTimeout = Math.min(opts.requestTimeoutMs, 20_000);
    this.server.keepAliveTimeout = 5_000;
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

  close(): Promise<void> {
    return new Promise((resolvePromise) => {
      this.server.close(() => resolvePromise());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (url.pathname.startsWith('/_nimbus/')) {
        const answer = await this.opts.admin(url.pathname);
        if (answer) return send(res, { status: answer.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer.body) });
      }
      const body = await readBody(req, this.opts.maxBodyBytes);
      const wire: WireRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
      send(res, await this.dispatcher.dispatch(wire));
    } catch (err) {
      const apiErr = err instanceof ApiError ? err : new ApiError('InternalError', 'An internal error has occurred', 500);
      send(res, this.opts.errorProtocol.encodeError(apiErr, newRequestId()), apiErr.status === 413);
    }
  }
}

function send(res: http.ServerResponse, r: WireResponse, close = false): void {
  if (res.headersSent) return;
  const headers: Record<string, string | number> = { ...r.headers, 'content-length': Buffer.byteLength(r.body) };
  if (close) headers.connection = 'close';
  res.writeHead(r.status, headers);
  res.end(r.body);
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
