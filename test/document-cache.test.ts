/**
 * The store's shared documents (listShared, getManyShared): what a describe reads again without
 * parsing must be what is committed, whoever wrote it and however its transaction ended.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/app.js';
import type { Store } from '../src/store/store.js';

interface Doc { id: string; state: string; nested: { n: number } }
const scope = { account: '000000000000', region: 'us-east-1' };
const KIND = 'widget';
const doc = (id: string, state: string, n = 0): Doc => ({ id, state, nested: { n } });
const states = async (store: Store) => (await store.listShared<Doc>(KIND, scope)).map((d) => `${d.id}:${d.state}`);

describe('listShared', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nimbus-doc-cache-'));
    store = openStore(dir);
    for (const id of ['w-1', 'w-2', 'w-3']) await store.put(KIND, scope, id, doc(id, 'new'));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists what list lists, in id order, and the same objects while nothing changed', async () => {
    const first = await store.listShared<Doc>(KIND, scope);
    assert.deepEqual(first, await store.list<Doc>(KIND, scope));
    const again = await store.listShared<Doc>(KIND, scope);
    assert.equal(again[1], first[1]);
  });

  it('hands out frozen documents: a reader that changes one throws instead of changing the next answer', async () => {
    const [d] = await store.listShared<Doc>(KIND, scope);
    assert.throws(() => { d!.state = 'changed'; }, TypeError);
    assert.throws(() => { d!.nested.n = 1; }, TypeError);
    assert.equal((await store.get<Doc>(KIND, scope, 'w-1'))!.state, 'new');
  });

  it('shows writes, additions and removals at once', async () => {
    await store.put(KIND, scope, 'w-2', doc('w-2', 'running'));
    await store.put(KIND, scope, 'w-4', doc('w-4', 'new'));
    await store.remove(KIND, scope, 'w-3');
    assert.deepEqual(await states(store), ['w-1:new', 'w-2:running', 'w-4:new']);
  });

  it('keeps nothing of a transaction that rolled back, even what was read inside it', async () => {
    await states(store);
    await assert.rejects(store.transaction(async () => {
      await store.put(KIND, scope, 'w-1', doc('w-1', 'doomed'));
      assert.deepEqual(await states(store), ['w-1:doomed', 'w-2:running', 'w-4:new']);
      throw new Error('rolled back');
    }), /rolled back/);
    assert.deepEqual(await states(store), ['w-1:new', 'w-2:running', 'w-4:new']);
  });

  it('keeps what a transaction read before it wrote: the committed documents', async () => {
    const [kept] = await store.transaction(async () => store.listShared<Doc>(KIND, scope));
    assert.equal((await store.listShared<Doc>(KIND, scope))[0], kept);
  });

  it("shows another connection's commits (the CLI's, while a server runs)", async () => {
    await states(store);
    const other = openStore(dir);
    try {
      await other.transaction(async () => other.put(KIND, scope, 'w-4', doc('w-4', 'stopped')));
    } finally {
      await other.close();
    }
    assert.deepEqual(await states(store), ['w-1:new', 'w-2:running', 'w-4:stopped']);
  });

  it('reads again what it gave back when the server went quiet', async () => {
    const before = (await store.listShared<Doc>(KIND, scope))[0];
    store.releaseMemory();
    const afterRelease = (await store.listShared<Doc>(KIND, scope))[0];
    assert.notEqual(afterRelease, before);
    assert.deepEqual(afterRelease, before);
  });
});

describe('getManyShared', () => {
  let dir: string;
  let store: Store;
  const byId = async (ids: string[]) => (await store.getManyShared<Doc>(KIND, scope, ids)).map((d) => `${d.id}:${d.state}`);
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nimbus-doc-cache-'));
    store = openStore(dir);
    for (const id of ['w-1', 'w-2', 'w-3']) await store.put(KIND, scope, id, doc(id, 'new'));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives what getMany gives (id order, unknown ids left out), sharing the documents listShared keeps', async () => {
    const ids = ['w-3', 'w-9', 'w-1', 'w-3'];
    const first = await store.getManyShared<Doc>(KIND, scope, ids);
    assert.deepEqual(first, await store.getMany<Doc>(KIND, scope, ['w-1', 'w-3']));
    assert.equal((await store.getManyShared<Doc>(KIND, scope, ['w-1']))[0], first[0]);
    assert.equal((await store.listShared<Doc>(KIND, scope))[2], first[1]);
    assert.throws(() => { first[0]!.state = 'changed'; }, TypeError);
  });

  it("shows writes, removals, rolled-back transactions and another connection's commits", async () => {
    await byId(['w-1', 'w-2', 'w-3']);
    await store.put(KIND, scope, 'w-2', doc('w-2', 'running'));
    await store.remove(KIND, scope, 'w-3');
    assert.deepEqual(await byId(['w-1', 'w-2', 'w-3']), ['w-1:new', 'w-2:running']);
    await assert.rejects(store.transaction(async () => {
      await store.put(KIND, scope, 'w-1', doc('w-1', 'doomed'));
      assert.deepEqual(await byId(['w-1']), ['w-1:doomed']);
      throw new Error('rolled back');
    }), /rolled back/);
    assert.deepEqual(await byId(['w-1']), ['w-1:new']);
    const other = openStore(dir);
    try {
      await other.transaction(async () => other.put(KIND, scope, 'w-1', doc('w-1', 'stopped')));
    } finally {
      await other.close();
    }
    assert.deepEqual(await byId(['w-1', 'w-2']), ['w-1:stopped', 'w-2:running']);
  });
});
