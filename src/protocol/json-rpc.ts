/** The AWS JSON 1.0/1.1 protocol: `X-Amz-Target: Prefix.Operation`, JSON body in and out. */
import { ApiError, missingParameter } from './errors.js';
import { resolve, type MemberRef, type Operation, type ServiceModel, type Shape } from './model.js';
import type { WireProtocol, WireRequest, WireResponse } from './types.js';

export class JsonRpcProtocol implements WireProtocol {
  private readonly contentType: string;

  constructor(readonly model: ServiceModel) {
    this.contentType = `application/x-amz-json-${model.metadata.jsonVersion ?? '1.1'}`;
  }

  operationOf(req: WireRequest): Operation {
    const target = String(req.headers['x-amz-target'] ?? '');
    const [prefix, name] = target.split('.');
    const op = name && prefix === this.model.metadata.targetPrefix && Object.hasOwn(this.model.operations, name)
      ? this.model.operations[name]
      : undefined;
    if (!op) throw new ApiError('UnknownOperationException', `Unknown operation ${target}`);
    return op;
  }

  decodeInput(op: Operation, req: WireRequest): Record<string, unknown> {
    let body: unknown = {};
    if (req.body.length > 0) {
      try {
        body = JSON.parse(req.body.toString('utf8'));
      } catch {
        throw new ApiError('SerializationException', 'The request body is not valid JSON');
      }
    }
    if (!op.input) return {};
    return this.read(resolve(this.model, op.input), body, '') as Record<string, unknown>;
  }

  private read(shape: Shape, value: unknown, path: string): unknown {
    const fail = () => new ApiError('SerializationException', `Unexpected value type for ${path || 'input'}`);
    switch (shape.type) {
      case 'structure': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail();
        const obj = value as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const [name, ref] of Object.entries(shape.members ?? {})) {
          if (obj[name] !== undefined && obj[name] !== null) {
            out[name] = this.read(resolve(this.model, ref), obj[name], path ? `${path}.${name}` : name);
          }
        }
        for (const name of shape.required ?? []) if (out[name] === undefined) throw validation(missingParameter(name).message);
        return out;
      }
      case 'list':
        if (!Array.isArray(value)) throw fail();
        return value.map((v, i) => this.read(resolve(this.model, shape.member!), v, `${path}[${i}]`));
      case 'map': {
        if (typeof value !== 'object' || value === null) throw fail();
        const valueShape = resolve(this.model, shape.value!);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.read(valueShape, v, `${path}.${k}`)]));
      }
      case 'boolean':
        if (typeof value !== 'boolean') throw fail();
        return value;
      case 'integer':
      case 'long':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw fail();
        return value;
      case 'double':
      case 'float':
        if (typeof value !== 'number') throw fail();
        return value;
      case 'timestamp':
        if (typeof value !== 'number' && typeof value !== 'string') throw fail();
        return new Date(typeof value === 'number' ? value * 1000 : value);
      case 'blob':
        if (typeof value !== 'string') throw fail();
        return Buffer.from(value, 'base64');
      default:
        if (typeof value !== 'string') throw fail();
        return value;
    }
  }

  encodeOutput(op: Operation, output: Record<string, unknown> | undefined): WireResponse {
    const body = op.output && output ? this.write(op.output, output) : {};
    return { status: 200, headers: { 'content-type': this.contentType }, body: JSON.stringify(body) };
  }

  private write(ref: MemberRef, value: unknown): unknown {
    const shape = resolve(this.model, ref);
    switch (shape.type) {
      case 'structure': {
        const out: Record<string, unknown> = {};
        for (const [name, member] of Object.entries(shape.members ?? {})) {
          const v = (value as Record<string, unknown>)[name];
          if (v !== undefined && v !== null) out[name] = this.write(member, v);
        }
        return out;
      }
      case 'list':
        return (value as unknown[]).map((v) => this.write(shape.member!, v));
      case 'map':
        return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, this.write(shape.value!, v)]));
      case 'timestamp':
        return (value instanceof Date ? value : new Date(value as string)).getTime() / 1000;
      case 'blob':
        return Buffer.isBuffer(value) ? value.toString('base64') : value;
      default:
        return value;
    }
  }

  encodeError(err: ApiError, requestId: string): WireResponse {
    return {
      status: err.status,
      headers: { 'content-type': this.contentType, 'x-amzn-requestid': requestId, 'x-amzn-errortype': err.code },
      body: JSON.stringify({ __type: err.code, message: err.message }),
    };
  }
}

const validation = (message: string) => new ApiError('ValidationException', message);
