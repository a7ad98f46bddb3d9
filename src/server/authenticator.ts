/** Who is calling: verifies SigV4 and resolves the access key to an account. */
import { timingSafeEqual } from 'node:crypto';
import { ApiError } from '../protocol/errors.js';
import { checkFreshness, readSignature, signatureMatches, type SignedIdentity } from '../protocol/sigv4.js';
import type { WireRequest } from '../protocol/types.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';

export const DEFAULT_ACCOUNT = '000000000000';
const DEFAULT_KEY = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface Caller {
  identity: SignedIdentity;
  accountId: string;
  principalArn: string;
}

export const authFailure = () =>
  new ApiError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);

/** A session token that does not belong to the key: EC2 says AuthFailure, the Query services (STS, IAM) InvalidClientTokenId. */
function invalidToken(service: string): ApiError {
  if (service === 'ec2') return authFailure();
  return new ApiError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
}

/** Temporary credentials past their expiry: EC2 says RequestExpired, the others ExpiredToken. */
function expiredToken(service: string): ApiError {
  if (service === 'ec2') return new ApiError('RequestExpired', 'Request has expired.', 400);
  return new ApiError('ExpiredToken', 'The security token included in the request is expired', 403);
}

/** Both absent, or equal (compared in constant time: a token is a secret). */
function sameToken(given: string | undefined, stored: string | undefined): boolean {
  if (given === undefined || stored === undefined) return given === stored;
  const a = Buffer.from(given);
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** The well-known test/test pair is honoured only while the server listens on loopback. */
    private readonly allowDefaultCredentials: boolean,
  ) {}

  /** The identity the request claims; throws when it has none or a malformed one. */
  claimed(req: WireRequest): SignedIdentity {
    const id = readSignature(req);
    if (!id) {
      throw new ApiError(
        'MissingAuthenticationToken',
        'The request must contain either a valid (registered) AWS access key ID or X.509 certificate.',
        401,
      );
    }
    return id;
  }

  async verify(req: WireRequest, id: SignedIdentity): Promise<Caller> {
    checkFreshness(id, this.clock.now());
    let secret: string;
    let accountId: string;
    let principalArn: string;
    // The well-known pair is the local operator's: never an instance's, whatever the server listens on.
    if (id.accessKeyId === DEFAULT_KEY.accessKeyId && this.allowDefaultCredentials && !req.fromInstance) {
      secret = DEFAULT_KEY.secretAccessKey;
      accountId = DEFAULT_ACCOUNT;
      principalArn = `arn:aws:iam::${DEFAULT_ACCOUNT}:root`;
    } else {
      const cred = await this.store.getCredential(id.accessKeyId);
      if (!cred) throw authFailure();
      // Temporary credentials need their own token; long-term keys take none.
      if (!sameToken(id.sessionToken, cred.sessionToken)) throw invalidToken(id.service);
      if (cred.expiresAt && Date.parse(cred.expiresAt) <= this.clock.now().getTime()) throw expiredToken(id.service);
      secret = cred.secretAccessKey;
      accountId = cred.accountId;
      principalArn = cred.principalArn;
    }
    if (!(await signatureMatches(req, id, secret))) {
      throw new ApiError(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
        403,
      );
    }
    return { identity: id, accountId, principalArn };
  }
}
