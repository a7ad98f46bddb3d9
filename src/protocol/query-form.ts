/**
 * What the two Query protocols (EC2 Query, AWS Query) read alike: form parameters from the query
 * string and a form-encoded body, read once per request, and the operation that Action names.
 * Each protocol words the errors of a missing or unknown Action and a wrong Version its own way.
 */
import type { ApiError } from './errors.js';
import type { Operation, ServiceModel } from './model.js';
import type { WireRequest } from './types.js';

/** Parameters that belong to the envelope or to authentication, not to the operation's input. */
const ENVELOPE = /^(Action|Version|X-Amz-[A-Za-z-]+|AWSAccessKeyId|Signature|SignatureMethod|SignatureVersion|Timestamp|Expires)$/;

/** The query string's parameters, then the form body's. */
function formParams(req: WireRequest): URLSearchParams {
  const type = String(req.headers['content-type'] ?? '');
  const isForm = req.body.length > 0 && (type === '' || type.startsWith('application/x-www-form-urlencoded'));
  if (!isForm) return new URLSearchParams(req.query);
  const form = new URLSearchParams(req.body.toString('utf8'));
  if (req.query.size === 0) return form; // the usual POST to `/`
  const params = new URLSearchParams(req.query);
  for (const [k, v] of form) params.append(k, v);
  return params;
}

/** A protocol's own errors for a request's Action and Version. */
export interface ActionErrors {
  missing(): ApiError;
  unknown(action: string): ApiError;
  wrongVersion(action: string, version: string): ApiError;
}

/** A service's Query requests: their parameters (read once each) and the operation they name. */
export class QueryForm {
  private readonly params = new WeakMap<WireRequest, URLSearchParams>();

  constructor(private readonly model: ServiceModel, private readonly errors: ActionErrors) {}

  private paramsOf(req: WireRequest): URLSearchParams {
    let p = this.params.get(req);
    if (!p) this.params.set(req, (p = formParams(req)));
    return p;
  }

  operationOf(req: WireRequest): Operation {
    const params = this.paramsOf(req);
    const action = params.get('Action');
    if (!action) throw this.errors.missing();
    const op = Object.hasOwn(this.model.operations, action) ? this.model.operations[action] : undefined;
    if (!op) throw this.errors.unknown(action);
    const version = params.get('Version');
    if (version && version !== this.model.metadata.apiVersion) throw this.errors.wrongVersion(action, version);
    return op;
  }

  /** The operation's own parameters: all but the envelope's. */
  inputEntries(req: WireRequest): [string, string][] {
    return [...this.paramsOf(req)].filter(([k]) => !ENVELOPE.test(k));
  }
}
