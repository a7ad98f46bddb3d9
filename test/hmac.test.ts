/** HmacSha256Key against node's createHmac: the same bits for any key and message. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HmacSha256Key } from '../src/util/hmac.js';

describe('HmacSha256Key', () => {
  it("gives createHmac's digest for keys shorter and longer than a block, and any text", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 300 }), (bytes, text) => {
      const key = Buffer.from(bytes);
      const prepared = new HmacSha256Key(key);
      const expected = createHmac('sha256', key).update(text, 'utf8').digest('hex');
      assert.equal(prepared.hex(text), expected);
      assert.equal(prepared.hex(text), expected); // the key is used again unchanged
    }), { numRuns: 500 });
  });

  it('matches the RFC 4231 test vector 2', () => {
    assert.equal(new HmacSha256Key(Buffer.from('Jefe')).hex('what do ya want for nothing?'),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
