/**
 * One API call, end to end: authenticate, route by the credential scope's service, decode the
 * input through the service model, run the operation in a transaction (honouring DryRun and
 * idempotency tokens) and encode the answer.
 */
import { createHash } from 'node:crypto';
import { ApiError, dryRunSucceeded, invalidParameterValue, toApiError } from '../protocol/errors.js';
import { resolve, type Operation } from '../protocol/model.js';
import type { WireProtocol, WireRequest, WireResponse } from '../protocol/types.js';
import type { ControlPlane, RequestContext, ServiceDefinition } from '../services/context.js';
import { newRequestId } from '../util/ids.js';
import type { Authenticator } from './authenticator.js';

export interface DispatchLog {
  (entry: { requestId: string; service: string; operation?: string; status: number; code?: string; ms: number }): void;
}

/** Operations that only read: nothing to tell the controllers after them. */
const READ_ONLY = /^(Describe|Get|List)/;

export class Dispatcher {
  private readonly services = new Map<string, ServiceDefinition>();
  private readonly tokenMembers = new WeakMap<Operation, string | null>();

  constructor(
    private readonly plane: ControlPlane,
    private readonly auth: Authenticator,
    services: ServiceDefinition[],
    private readonly knownRegions: ReadonlySet<string>,
    private readonly log?: DispatchLog,
  ) {
    for (const s of services) this.services.set(s.signingName, s);
  }

  /** The protocol used to answer when the request never reached a service (no or bad signature). */
  private get fallback(): WireProtocol {
    return this.services.get('ec2')!.protocol;
  }

  async dispatch(req: WireRequest): Promise<WireResponse> {
    const requestId = newRequestId();
    const started = performance.now();
    let protocol = this.fallback;
    let service = 'ec2';
    let operation: string | undefined;
    try {
      const identity = this.auth.claimed(req);
      const svc = this.services.get(identity.service);
      if (!svc) {
        throw new ApiError('InvalidClientTokenId', `Credential should be scoped to a valid service: '${identity.service}'.`, 403);
      }
      protocol = svc.protocol;
      service = svc.signingName;
      if (!this.knownRegions.has(identity.region)) {
        throw new ApiError('AuthFailure', `Credential should be scoped to a valid region: '${identity.region}'.`, 401);
      }
      const caller = await this.auth.verify(req, identity);
      const op = protocol.operationOf(req);
      operation = op.name;
      const handler = svc.handlers[op.name];
      if (!handler) {
        throw new ApiError('NotImplemented', `The operation ${op.name} is not implemented by this endpoint.`, 501);
      }
      const input = protocol.decodeInput(op, req);
      const ctx: RequestContext = {
        requestId,
        operation: op.name,
        scope: { account: caller.accountId, region: identity.region },
        accountId: caller.accountId,
        region: identity.region,
        principalArn: caller.principalArn,
        plane: this.plane,
        store: this.plane.store,
        now: () => this.plane.clock.now(),
      };
      const output = await this.run(svc, op, input, ctx);
      const res = protocol.encodeOutput(op, (output ?? undefined) as Record<string, unknown> | undefined, requestId);
      this.log?.({ requestId, service, operation, status: res.status, ms: performance.now() - started });
      return res;
    } catch (err) {
      const apiErr = toApiError(err);
      if (apiErr.status >= 500 && !(err instanceof ApiError)) {
        console.error(`[${requestId}] ${service}:${operation ?? '?'} failed:`, err);
      }
      const res = protocol.encodeError(apiErr, requestId);
      this.log?.({ requestId, service, operation, status: res.status, code: apiErr.code, ms: performance.now() - started });
      return res;
    }
  }

  private async run(svc: ServiceDefinition, op: Operation, input: Record<string, unknown>, ctx: RequestContext): Promise<object | void> {
    const handler = svc.handlers[op.name]!;
    const tokenMember = this.idempotencyMember(svc, op);
    const token = tokenMember ? (input[tokenMember] as string | undefined) : undefined;
    const dryRun = input.DryRun === true;
    if (token !== undefined && token.length > 64) {
      throw invalidParameterValue(`Value (${token}) for parameter ${tokenMember} is invalid. Length exceeds maximum of 64 characters.`);
    }
    const output = await ctx.store.transaction(async () => {
      let paramsHash: string | undefined;
      if (token && !dryRun) {
        const { [tokenMember!]: _t, DryRun: _d, ...rest } = input;
        paramsHash = createHash('sha256').update(stableJson(rest)).digest('hex');
        const prior = await ctx.store.getIdempotency(ctx.scope, op.name, token);
        if (prior) {
          if (prior.paramsHash !== paramsHash) {
            throw new ApiError(
              'IdempotentParameterMismatch',
              `The client token you have provided is associated with a resource that is already deleted or with different parameters. Please use a different client token.`,
            );
          }
          return JSON.parse(prior.output) as object;
        }
      }
      const output = await handler(input, ctx);
      if (dryRun) throw dryRunSucceeded();
      if (token && paramsHash) {
        await ctx.store.putIdempotency(ctx.scope, op.name, token, { paramsHash, output: JSON.stringify(output ?? {}) });
      }
      return output;
    });
    if (!READ_ONLY.test(op.name)) this.plane.committed?.(op.name);
    return output;
  }

  /** The input member that the model marks as the idempotency token, if any. */
  private idempotencyMember(svc: ServiceDefinition, op: Operation): string | undefined {
    let name = this.tokenMembers.get(op);
    if (name === undefined) {
      name = null;
      if (op.input) {
        const shape = resolve(svc.protocol.model, op.input);
        for (const [member, ref] of Object.entries(shape.members ?? {})) if (ref.idempotencyToken) name = member;
      }
      this.tokenMembers.set(op, name);
    }
    return name ?? undefined;
  }
}

/** JSON with object keys sorted, so that equal inputs hash equally. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}
