/**
 * IMDSv2 session tokens: an instance id and an expiry, authenticated with a key only this server
 * holds (kept in the data directory, so tokens outlive a restart as EC2's outlive a host update).
 * A token is good only for the instance it was issued to.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 21600;

export class TokenIssuer {
  private readonly key: Buffer;

  constructor(keyFile: string) {
    if (!existsSync(keyFile)) {
      mkdirSync(dirname(keyFile), { recursive: true });
      writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
    }
    this.key = readFileSync(keyFile);
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }

  issue(instanceId: string, ttlSeconds: number, now: Date): string {
    const body = Buffer.from(JSON.stringify({ i: instanceId, e: Math.floor(now.getTime() / 1000) + ttlSeconds })).toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** Whether `token` is one this server issued to `instanceId` and has not expired. */
  valid(token: string, instanceId: string, now: Date): boolean {
    const [body, mac] = token.split('.');
    if (!body || !mac) return false;
    const want = this.mac(body);
    const got = Buffer.from(mac, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return false;
    try {
      const { i, e } = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { i: string; e: number };
      return i === instanceId && e * 1000 > now.getTime();
    } catch {
      return false;
    }
  }
}
