/**
 * The store's listHolding: the resources of a kind in a scope whose stored text holds a value, as
 * a whole JSON string in any field, in id order; never one that holds only a longer string.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/app.js';
import type { Store } from '../src/store/store.js';

const scope = { account: '000000000000', region: 'us-east-1' };
const elsewhere = { account: '000000000000', region: 'eu-west-1' };
const ids = async (store: Store, kind: string, value: string, at = scope) =>
  (await store.listHolding<{ id: string }>(kind, at, value)).map((d) => d.id);

describe('listHolding', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nimbus-holding-'));
    store = openStore(dir);
    await store.put('eni', scope, 'eni-3', { id: 'eni-3', groups: [{ id: 'sg-1' }, { id: 'sg-2' }] });
    await store.put('eni', scope, 'eni-1', { id: 'eni-1', groups: [{ id: 'sg-1' }], attachment: { id: 'att-1' } });
    await store.put('eni', scope, 'eni-2', { id: 'eni-2', groups: [{ id: 'sg-12' }], description: 'like sg-1 but not it' });
    await store.put('eni', scope, 'eni-4', { id: 'eni-4', description: 'say "hi" \\ über' });
    await store.put('eni', elsewhere, 'eni-9', { id: 'eni-9', groups: [{ id: 'sg-1' }] });
    await store.put('group', scope, 'sg-1', { id: 'sg-1' });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the documents of the kind and scope holding the value in any field, in id order', async () => {
    assert.deepEqual(await ids(store, 'eni', 'sg-1'), ['eni-1', 'eni-3']);
    assert.deepEqual(await ids(store, 'eni', 'sg-2'), ['eni-3']);
    assert.deepEqual(await ids(store, 'eni', 'att-1'), ['eni-1']);
    assert.deepEqual(await ids(store, 'eni', 'sg-1', elsewhere), ['eni-9']);
    assert.deepEqual(await ids(store, 'group', 'sg-1'), ['sg-1']);
  });

  it('matches whole strings only, escaped as JSON writes them', async () => {
    assert.deepEqual(await ids(store, 'eni', 'sg'), []);
    assert.deepEqual(await ids(store, 'eni', 'sg-123'), []);
    assert.deepEqual(await ids(store, 'eni', 'say "hi" \\ über'), ['eni-4']);
    assert.deepEqual(await ids(store, 'eni', 'sg-3'), []);
  });

  it('sees what the transaction wrote and what a rollback took back', async () => {
    await store.transaction(async () => {
      await store.put('eni', scope, 'eni-5', { id: 'eni-5', groups: [{ id: 'sg-2' }] });
      assert.deepEqual(await ids(store, 'eni', 'sg-2'), ['eni-3', 'eni-5']);
    });
    await assert.rejects(store.transaction(async () => {
      await store.remove('eni', scope, 'eni-3');
      throw new Error('rolled back');
    }));
    assert.deepEqual(await ids(store, 'eni', 'sg-2'), ['eni-3', 'eni-5']);
  });
});
