import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/index.js';
import type { Operation } from '../../../src/engine/domain/types.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { OperationBook } from '../../../src/engine/store/operationBook.js';

describe('compare-and-set: of two movers from the same state, exactly one wins', () => {
  it('two workers (one whose lock lapsed) move the same confirmed open to placing in the same millisecond: both are told they won', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const now = clock.nowMs();
    const op: Operation = {
      id: 'op1', kind: 'open', coin: 'ETH', mode: 'live', requestedBy: { userId: 'u', name: 'alice', chatId: 'c' },
      state: 'confirmed', steps: [{ atMs: now, state: 'requested', note: 'requested by alice' }, { atMs: now, state: 'confirmed', note: 'confirmed by alice' }],
      createdAtMs: now, updatedAtMs: now,
    };
    await store.putOperation(op);
    const a = new OperationBook(store, clock);
    const b = new OperationBook(store, clock);
    const mine = structuredClone(op);
    const theirs = structuredClone(op);
    const results = await Promise.allSettled([
      a.advance(mine, 'placing', 'spot buy and perp sell of 1 ETH'),
      b.advance(theirs, 'placing', 'spot buy and perp sell of 1 ETH'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});
