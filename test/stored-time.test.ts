import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storedTime } from '../src/util/stored-time.js';

describe('storedTime', () => {
  it('is the Date of the stored text and writes that text back', () => {
    const iso = '2026-12-03T10:15:08.553Z';
    const t = storedTime(iso);
    assert.ok(t instanceof Date);
    assert.equal(t.getTime(), Date.parse(iso));
    assert.equal(t.toISOString(), iso);
    assert.equal(JSON.stringify({ t }), JSON.stringify({ t: iso }));
  });

  it('formats text in any other ISO-8601 form as a Date would', () => {
    for (const iso of ['2026-12-03T10:15:08Z', '2026-12-03T11:15:08.553+01:00', '2026-12-03']) {
      assert.equal(storedTime(iso).toISOString(), new Date(iso).toISOString(), iso);
    }
  });
});
