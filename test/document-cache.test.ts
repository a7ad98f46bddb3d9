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

/** The suite's store: a fresh directory holding w-1, w-2 and w-3, removed after the suite. */
function suiteStore(): { store: Store; dir: string } {
  const at = {} as { store: Store; dir: string };
  before(async () => {
    at.dir = mkdtempSync(join(tmpdir(), 'nimbus-doc-cache-'));
    at.store = openStore(at.dir);
    for (const id of ['w-1', 'w-2', 'w-3']) await at.store.put(KIND, scope, id, doc(id, 'new'));
  });
  after(async () => {
    await at.store.close();
    rmSync(at.dir, { recursive: true, force: true });
  });
  return at;
}

describe('listShared', () => {
  const at = suiteStore();

  it('lists what list lists, in id order, and the same objects while nothing changed', async () => {
    const first = await at.store.listShared<Doc>(KIND, scope);
    assert.deepEqual(first, await at.store.list<Doc>(KIND, scope));
    const again = await at.store.listShared<Doc>(KIND, scope);
    assert.equal(again[1], first[1]);
  });

  it('hands out frozen documents: a reader that changes one throws instead of changing the next answer', async () => {
    const [d] = await at.store.listShared<Doc>(KIND, scope);
    assert.throws(() => { d!.state = 'changed'; }, TypeError);
    assert.throws(() => { d!.nested.n = 1; }, TypeError);
    assert.equal((await at.store.get<Doc>(KIND, scope, 'w-1'))!.state, 'new');
  });

  it('shows writes, additions and removals at once', async () => {
    await at.store.put(KIND, scope, 'w-2', doc('w-2', 'running'));
    await at.store.put(KIND, scope, 'w-4', doc('w-4', 'new'));
    await at.store.remove(KIND, scope, 'w-3');
    assert.deepEqual(await states(at.store), ['w-1:new', 'w-2:running', 'w-4:new']);
  });

  it('keeps nothing of a transaction that rolled back, even what was read inside it', async () => {
    await states(at.store);
    await assert.rejects(at.store.transaction(async () => {
      await at.store.put(KIND, scope, 'w-1', doc('w-1', 'doomed'));
      assert.deepEqual(await states(at.store), ['w-1:doomed', 'w-2:running', 'w-4:new']);
      throw new Error('rolled back');
    }), /rolled back/);
    assert.deepEqual(await states(at.store), ['w-1:new', 'w-2:running', 'w-4:new']);
  });

  it('keeps what a transaction read before it wrote: the committed documents', async () => {
    const [kept] = await at.store.transaction(async () => at.store.listShared<Doc>(KIND, scope));
    assert.equal((await at.store.listShared<Doc>(KIND, scope))[0], kept);
  });

  it("shows another connection's commits (the CLI's, while a server runs)", async () => {
    await states(at.store);
    const other = openStore(at.dir);
    try {
      await other.transaction(async () => other.put(KIND, scope, 'w-4', doc('w-4', 'stopped')));
    } finally {
      await other.close();
    }
    assert.deepEqual(await states(at.store), ['w-1:new', 'w-2:running', 'w-4:stopped']);
  });

  it('keeps a short list whole until a document of its kind in its scope is written', async () => {
    const first = await at.store.listShared<Doc>(KIND, scope);
    assert.equal(await at.store.listShared<Doc>(KIND, scope), first, 'the same list while nothing changed');
    assert.throws(() => (first as Doc[]).push(doc('w-9', 'new')), TypeError);
    await at.store.put('other-kind', scope, 'x-1', doc('x-1', 'new'));
    await at.store.put(KIND, { ...scope, region: 'eu-west-1' }, 'w-1', doc('w-1', 'elsewhere'));
    assert.equal(await at.store.listShared<Doc>(KIND, scope), first, 'writes of another kind or scope leave it');
    await at.store.transaction(async () => {
      await at.store.put(KIND, scope, 'w-5', doc('w-5', 'new'));
      const inside = await at.store.listShared<Doc>(KIND, scope);
      assert.notEqual(inside, first);
      assert.deepEqual(inside.map((d) => d.id), [...first.map((d) => d.id), 'w-5']);
    });
    const after = await at.store.listShared<Doc>(KIND, scope);
    assert.deepEqual(after.map((d) => d.id), [...first.map((d) => d.id), 'w-5']);
    await at.store.remove(KIND, scope, 'w-5');
    assert.deepEqual((await at.store.listShared<Doc>(KIND, scope)).map((d) => d.id), first.map((d) => d.id));
  });

  it('reads again what it gave back when the server went quiet', async () => {
    const before = (await at.store.listShared<Doc>(KIND, scope))[0];
    at.store.releaseMemory();
    const afterRelease = (await at.store.listShared<Doc>(KIND, scope))[0];
    assert.notEqual(afterRelease, before);
    assert.deepEqual(afterRelease, before);
  });
});

describe('getManyShared', () => {
  const at = suiteStore();
  const byId = async (ids: string[]) => (await at.store.getManyShared<Doc>(KIND, scope, ids)).map((d) => `${d.id}:${d.state}`);

  it('gives what getMany gives (id order, unknown ids left out), sharing the documents listShared keeps', async () => {
    const ids = ['w-3', 'w-9', 'w-1', 'w-3'];
    const first = await at.store.getManyShared<Doc>(KIND, scope, ids);
    assert.deepEqual(first, await at.store.getMany<Doc>(KIND, scope, ['w-1', 'w-3']));
    assert.equal((await at.store.getManyShared<Doc>(KIND, scope, ['w-1']))[0], first[0]);
    assert.equal((await at.store.listShared<Doc>(KIND, scope))[2], first[1]);
    assert.throws(() => { first[0]!.state = 'changed'; }, TypeError);
  });

  it("shows writes, removals, rolled-back transactions and another connection's commits", async () => {
    await byId(['w-1', 'w-2', 'w-3']);
    await at.store.put(KIND, scope, 'w-2', doc('w-2', 'running'));
    await at.store.remove(KIND, scope, 'w-3');
    assert.deepEqual(await byId(['w-1', 'w-2', 'w-3']), ['w-1:new', 'w-2:running']);
    await assert.rejects(at.store.transaction(async () => {
      await at.store.put(KIND, scope, 'w-1', doc('w-1', 'doomed'));
      assert.deepEqual(await byId(['w-1']), ['w-1:doomed']);
      throw new Error('rolled back');
    }), /rolled back/);
    assert.deepEqual(await byId(['w-1']), ['w-1:new']);
    const other = openStore(at.dir);
    try {
      await other.transaction(async () => other.put(KIND, scope, 'w-1', doc('w-1', 'stopped')));
    } finally {
      await other.close();
    }
    assert.deepEqual(await byId(['w-1', 'w-2']), ['w-1:stopped', 'w-2:running']);
  });
});
