import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import type { LedgerEntry } from '../../../src/engine/domain/types.js';
import { sumLedger } from '../../../src/engine/execution/paperExecutor.js';
import { LedgerView } from '../../../src/engine/execution/ledgerView.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';

const line = (id: string, amount: string, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  id,
  atMs: 1,
  kind: 'trade',
  account: 'spot',
  asset: 'USDT',
  amount: new Decimal(amount),
  ref: 'r',
  mode: 'paper',
  ...extra,
});

describe('LedgerView', () => {
  it('keeps exactly the ledger sum while lines arrive from several writers, reading each line once', async () => {
    const store = new MemoryStore();
    const mine = new LedgerView(store);
    const theirs = new LedgerView(store);
    await store.appendLedger([line('a', '0.1'), line('b', '0.2')]);
    // Concurrent readers must not add the same lines twice.
    await Promise.all([mine.balancesOf('paper'), mine.balancesOf('paper'), theirs.balancesOf('paper')]);
    await store.appendLedger([line('c', '-0.3'), line('d', '5', { kind: 'funding', account: 'perp', ref: 'p1' }), line('e', '7', { mode: 'live' })]);
    const [a, b] = await Promise.all([mine.balancesOf('paper'), theirs.balancesOf('paper')]);
    const expected = sumLedger(await store.listLedger(), 'paper');
    for (const view of [a, b]) {
      expect(view.spot.get('USDT')?.toString()).toBe(expected.spot.get('USDT')?.toString());
      expect(view.spot.get('USDT')?.toString()).toBe('0');
      expect(view.perp.get('USDT')?.toString()).toBe('5');
    }
    expect((await mine.balancesOf('live')).spot.get('USDT')?.toString()).toBe('7');
    expect((await theirs.fundingByPosition()).get('p1')?.toString()).toBe('5');
  });

  it('lists the funding lines of one position as they arrive', async () => {
    const store = new MemoryStore();
    const view = new LedgerView(store);
    const funding = (id: string, ref: string, atMs: number, amount: string) => line(id, amount, { kind: 'funding', account: 'perp', ref, atMs, mode: 'live' });
    await store.appendLedger([funding('f1', 'p1', 10, '0.5'), funding('f2', 'p2', 10, '0.7')]);
    expect((await view.fundingLinesOf('p1')).map((l) => l.id)).toEqual(['f1']);
    await store.appendLedger([line('t1', '-3', { ref: 'p1' }), funding('f3', 'p1', 20, '-0.25')]);
    expect((await view.fundingLinesOf('p1')).map((l) => `${l.atMs} ${l.amount.toString()}`)).toEqual(['10 0.5', '20 -0.25']);
    expect(await view.fundingLinesOf('p3')).toEqual([]);
  });
});
