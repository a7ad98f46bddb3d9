import type { IncomingHttpHeaders } from 'node:http';
import type { ApiError } from './errors.js';
import type { Operation, ServiceModel } from './model.js';

/** An HTTP request as the protocol layer sees it: fully read, nothing interpreted yet. */
export interface WireRequest {
  method: string;
  /** Path without the query string, as sent (still percent-encoded). */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Came from an instance through its VPC's router (server/instance-endpoint.ts), not from the server's own listener. */
  fromInstance?: boolean;
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  /** A short answer as text; a large one as the UTF-8 buffers it was serialized into, in order. */
  body: string | EncodedBody;
}

export interface EncodedBody {
  chunks: readonly Buffer[];
  /** Their total length in bytes. */
  length: number;
}

/** A decoded call: which operation, with what typed input. */
export interface DecodedCall {
  operation: Operation;
  input: Record<string, unknown>;
}

/** One wire protocol of one service model (EC2 Query, AWS Query, JSON 1.1, …). */
export interface WireProtocol {
  readonly model: ServiceModel;
  /** Finds the operation; ApiError for unknown actions. */
  operationOf(req: WireRequest): Operation;
  /** Parses and type-checks the input against the model; ApiError for bad input. */
  decodeInput(op: Operation, req: WireRequest): Record<string, unknown>;
  encodeOutput(op: Operation, output: Record<string, unknown> | undefined, requestId: string): WireResponse;
  encodeError(err: ApiError, requestId: string): WireResponse;
}
