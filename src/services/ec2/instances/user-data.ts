/** Instance user data: base64 on the wire, at most 16 KB once decoded. */
import { invalidParameterValue } from '../../../protocol/errors.js';

export const USER_DATA_MAX_BYTES = 16 * 1024;

/** Decodes base64 user data strictly (Node's own decoder skips bad characters) and checks its size. */
export function decodeUserData(base64: string): Buffer {
  const compact = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw invalidParameterValue('Invalid BASE64 encoding of user data.');
  }
  const bytes = Buffer.from(compact, 'base64');
  checkUserDataSize(bytes);
  return bytes;
}

export function checkUserDataSize(bytes: Buffer): void {
  if (bytes.length > USER_DATA_MAX_BYTES) throw invalidParameterValue(`User data is limited to ${USER_DATA_MAX_BYTES} bytes`);
}
