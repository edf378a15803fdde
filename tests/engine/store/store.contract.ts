import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import type {
  AuditEntry,
  LedgerEntry,
  Operation,
  OperationState,
  OrderResult,
  Position,
} from '../../../src/engine/domain/types.js';
import type { Store } from '../../../src/engine/store/port.js';

/** Records with every Decimal replaced by its string, so toEqual compares amounts digit for digit. */
function plain(value: unknown): unknown {
  if (Decimal.isDecimal(value)) return `Decimal(${value.valueOf()})`;
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plain(field)]));
  }
  return value;
}

function operation(id: string, createdAtMs: number, state: OperationState = 'requested'): Operation {
  return {
    id,
    kind: 'open',
    coin: 'BTC',
    mode: 'paper',
    notionalUsd: new Decimal('1000.50'),
    quote: {
      spotPrice: new Decimal('65000.1'),
      perpPrice: new Decimal('65010.25'),
      qty: new Decimal('0.015'),
      quotedAtMs: createdAtMs,
      expiresAtMs: createdAtMs + 30_000,
    },
    requestedBy: { userId: 'u1', name: 'Ann', chatId: 'c1', messageId: 'm1' },
    state,
    steps: [{ atMs: createdAtMs, state, note: 'asked' }],
    createdAtMs,
    updatedAtMs: createdAtMs,
  };
}

function position(id: string, openedAtMs: number, status: Position['status'] = 'open'): Position {
  return {
    id,
    coin: 'ETH',
    mode: 'paper',
    spotLeg: {
      kind: 'spot',
      symbol: 'ETH/USDT',
      side: 'buy',
      qty: new Decimal('1.234'),
      entryPrice: new Decimal('3000.01'),
      entryFeeUsd: new Decimal('0.00370201'),
    },
    perpLeg: {
      kind: 'perp',
      symbol: 'ETH/USDT:USDT',
      side: 'sell',
      qty: new Decimal('1.234'),
      entryPrice: new Decimal('3001.5'),
      entryFeeUsd: new Decimal('0.0018519255'),
    },
    openedAtMs,
    openedBy: 'u1',
    openOperationId: `op-${id}`,
    status,
    lastFundingMs: openedAtMs,
  };
}

function fill(clientOrderId: string, avgPrice = '65000.5'): OrderResult {
  return {
    clientOrderId,
    orderId: `venue-${clientOrderId}`,
    coin: 'BTC',
    kind: 'spot',
    symbol: 'BTC/USDT',
    side: 'buy',
    status: 'filled',
    requestedQty: new Decimal('0.015'),
    filledQty: new Decimal('0.015'),
    avgPrice: new Decimal(avgPrice),
    feeUsd: new Decimal('0.97500750'),
    simulated: true,
    timestampMs: 1_000,
  };
}

function entry(id: string, amount: string | Decimal, asset = 'USDT'): LedgerEntry {
  return {
    id,
    atMs: 1_000,
    kind: 'trade',
    account: 'spot',
    asset,
    amount: new Decimal(amount),
    ref: 'op-1',
    mode: 'paper',
  };
}

function audit(atMs: number): AuditEntry {
  return { atMs, userId: 'u1', name: 'Ann', chatId: 'c1', action: `action-${atMs}`, outcome: 'ok' };
}

const ids = (records: { id: string }[]): string[] => records.map((record) => record.id);

/** The behaviour every Store keeps; run it against each implementation. */
export function storeContract(
  name: string,
  makeStore: () => Promise<Store>,
  teardown: (store: Store) => Promise<void> = (store) => store.close(),
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await makeStore();
    });

    afterEach(async () => {
      await teardown(store);
    });

    describe('unknown ids', () => {
      it('returns null for an operation, position or fill never stored', async () => {
        expect(await store.getOperation('nope')).toBeNull();
        expect(await store.getPosition('nope')).toBeNull();
        expect(await store.getFill('nope')).toBeNull();
      });

      it('starts empty', async () => {
        expect(await store.listUnfinishedOperations()).toEqual([]);
        expect(await store.listOpenPositions()).toEqual([]);
        expect(await store.listPositions()).toEqual([]);
        expect(await store.listClosedPositionsAwaitingFunding()).toEqual([]);
        expect(await store.listLedger()).toEqual([]);
        expect(await store.recentAudit(10)).toEqual([]);
        expect(await store.getMode()).toBeNull();
      });
    });

    describe('operations', () => {
      it('returns what was put, Decimals as Decimals', async () => {
        const op = operation('op-1', 1_000);
        await store.putOperation(op);
        const got = await store.getOperation('op-1');
        expect(plain(got)).toEqual(plain(op));
        expect(got?.quote?.spotPrice).toBeInstanceOf(Decimal);
        expect(got?.notionalUsd?.equals('1000.5')).toBe(true);
      });

      it('overwrites on a second put with the same id', async () => {
        const op = operation('op-1', 1_000);
        await store.putOperation(op);
        const confirmed: Operation = {
          ...op,
          state: 'confirmed',
          steps: [...op.steps, { atMs: 2_000, state: 'confirmed', note: 'confirmed by Ann' }],
          updatedAtMs: 2_000,
        };
        await store.putOperation(confirmed);
        const got = await store.getOperation('op-1');
        expect(got?.state).toBe('confirmed');
        expect(got?.steps.map((step) => step.state)).toEqual(['requested', 'confirmed']);
      });

      it('keeps its own copy: mutating the object after put changes nothing stored', async () => {
        const op = operation('op-1', 1_000);
        await store.putOperation(op);
        op.state = 'failed';
        op.steps.push({ atMs: 5, state: 'failed', note: 'mutated' });
        const got = await store.getOperation('op-1');
        expect(got?.state).toBe('requested');
        expect(got?.steps).toHaveLength(1);

        got!.state = 'cancelled';
        expect((await store.getOperation('op-1'))?.state).toBe('requested');
      });

      it('lists only unfinished operations, oldest first', async () => {
        await store.putOperation(operation('late', 3_000, 'requested'));
        await store.putOperation(operation('early', 1_000, 'placing'));
        await store.putOperation(operation('done', 500, 'failed'));
        await store.putOperation(operation('middle', 2_000, 'confirmed'));
        await store.putOperation(operation('opened', 1_500, 'open'));
        expect(ids(await store.listUnfinishedOperations())).toEqual(['early', 'middle', 'late']);
      });

      it('drops an operation from the unfinished list once it is put in a finished state', async () => {
        await store.putOperation(operation('a', 1_000, 'placing'));
        await store.putOperation(operation('b', 2_000, 'placing'));
        await store.putOperation(operation('a', 1_000, 'rolled_back'));
        const unfinished = await store.listUnfinishedOperations();
        expect(ids(unfinished)).toEqual(['b']);
        expect(unfinished[0]?.state).toBe('placing');
        expect((await store.getOperation('a'))?.state).toBe('rolled_back');
      });

      it('lists the latest version of an unfinished operation', async () => {
        await store.putOperation(operation('a', 1_000, 'requested'));
        await store.putOperation(operation('a', 1_000, 'placing'));
        const unfinished = await store.listUnfinishedOperations();
        expect(unfinished.map((op) => op.state)).toEqual(['placing']);
      });
    });

    describe('positions', () => {
      it('returns what was put', async () => {
        const stored = position('p1', 1_000);
        await store.putPosition(stored);
        const got = await store.getPosition('p1');
        expect(plain(got)).toEqual(plain(stored));
        expect(got?.perpLeg.entryFeeUsd.equals('0.0018519255')).toBe(true);
      });

      it('lists open positions and all positions, oldest first', async () => {
        await store.putPosition(position('c', 3_000));
        await store.putPosition(position('a', 1_000));
        await store.putPosition(position('b', 2_000, 'closed'));
        expect(ids(await store.listOpenPositions())).toEqual(['a', 'c']);
        expect(ids(await store.listPositions())).toEqual(['a', 'b', 'c']);
      });

      it('lists thousands of positions whole and in order', async () => {
        const count = 2_345;
        await Promise.all(Array.from({ length: count }, (_, i) => store.putPosition(position(`p${String(i).padStart(4, '0')}`, 10_000 + i, i % 3 === 0 ? 'closed' : 'open'))));
        const open = await store.listOpenPositions();
        expect(open).toHaveLength(count - Math.ceil(count / 3));
        expect(ids(open)).toEqual(ids(open).slice().sort());
        const all = await store.listPositions();
        expect(all).toHaveLength(count);
        expect(all[0]?.id).toBe('p0000');
        expect(all[count - 1]?.id).toBe(`p${count - 1}`);
      });

      it('moves a position out of the open list when it is put closed, keeping it in all', async () => {
        const open = position('a', 1_000);
        await store.putPosition(open);
        await store.putPosition(position('b', 2_000));
        await store.putPosition({
          ...open,
          status: 'closed',
          closedAtMs: 9_000,
          closeOperationId: 'op-close',
          exitSpotPrice: new Decimal('3100.2'),
          exitPerpPrice: new Decimal('3100.9'),
          exitFeesUsd: new Decimal('0.0076'),
          realisedPnlUsd: new Decimal('-12.3456789'),
        });
        expect(ids(await store.listOpenPositions())).toEqual(['b']);
        const all = await store.listPositions();
        expect(ids(all)).toEqual(['a', 'b']);
        expect(all[0]?.status).toBe('closed');
        expect(all[0]?.realisedPnlUsd?.toString()).toBe('-12.3456789');
      });

      it('lists closed positions awaiting funding, oldest first, until they are put funding-complete', async () => {
        await store.putPosition(position('open', 1_000));
        await store.putPosition({ ...position('b', 3_000, 'closed'), closedAtMs: 9_000 });
        await store.putPosition({ ...position('a', 2_000, 'closed'), closedAtMs: 9_500 });
        await store.putPosition({ ...position('done', 500, 'closed'), closedAtMs: 600, fundingComplete: true });
        expect(ids(await store.listClosedPositionsAwaitingFunding())).toEqual(['a', 'b']);

        const b = await store.getPosition('b');
        await store.putPosition({ ...b!, lastFundingMs: 8_000, fundingComplete: true });
        expect(plain(await store.listClosedPositionsAwaitingFunding())).toEqual(plain([await store.getPosition('a')]));
        expect((await store.getPosition('b'))?.fundingComplete).toBe(true);
        expect(ids(await store.listPositions())).toEqual(['done', 'open', 'a', 'b']);
      });

      it('lists an open position, and one closed with its operation, as awaiting funding only once closed', async () => {
        const open = position('a', 1_000);
        await store.putOperation(operation('op-a', 1_000, 'placing'));
        await store.advanceOperation(operation('op-a', 1_000, 'open'), 'placing', { position: open });
        expect(await store.listClosedPositionsAwaitingFunding()).toEqual([]);
        await store.putOperation(operation('op-c', 1_500, 'placing'));
        await store.advanceOperation(operation('op-c', 1_500, 'closed'), 'placing', { position: { ...open, status: 'closed', closedAtMs: 2_000 } });
        expect(ids(await store.listClosedPositionsAwaitingFunding())).toEqual(['a']);
      });
    });

    describe('advanceOperation (compare-and-set)', () => {
      it('writes the position and the operation step together, each listed as its state says', async () => {
        await store.putOperation(operation('op-open', 1_000, 'placing'));
        const opened = await store.advanceOperation({ ...operation('op-open', 1_000, 'open'), positionId: 'p1' }, 'placing', { position: position('p1', 2_000) });
        expect(opened).toEqual({ ok: true });
        expect(ids(await store.listOpenPositions())).toEqual(['p1']);
        expect((await store.getOperation('op-open'))?.positionId).toBe('p1');
        expect(await store.listUnfinishedOperations()).toEqual([]);

        await store.putOperation(operation('op-close', 3_000, 'placing'));
        await store.advanceOperation(operation('op-close', 3_000, 'closed'), 'placing', { position: position('p1', 2_000, 'closed') });
        expect(await store.listOpenPositions()).toEqual([]);
        expect(ids(await store.listPositions())).toEqual(['p1']);
        expect((await store.getOperation('op-close'))?.state).toBe('closed');
        expect(await store.listUnfinishedOperations()).toEqual([]);
      });

      it('keeps an unfinished operation listed', async () => {
        await store.putOperation(operation('op-fix', 1_000, 'confirmed'));
        await store.advanceOperation(operation('op-fix', 1_000, 'placing'), 'confirmed', { position: position('p1', 2_000) });
        expect(ids(await store.listUnfinishedOperations())).toEqual(['op-fix']);
        expect(ids(await store.listOpenPositions())).toEqual(['p1']);
      });

      it('refuses a move from a state the record is no longer in, and writes nothing', async () => {
        await store.putOperation(operation('op-race', 1_000, 'requested'));
        expect(await store.advanceOperation(operation('op-race', 1_000, 'cancelled'), 'requested')).toEqual({ ok: true });
        const late = await store.advanceOperation(operation('op-race', 1_000, 'confirmed'), 'requested', { position: position('p9', 2_000) });
        expect(late).toEqual({ ok: false, reason: 'state', current: 'cancelled' });
        expect((await store.getOperation('op-race'))?.state).toBe('cancelled');
        expect(await store.listPositions()).toEqual([]);
        expect(await store.advanceOperation(operation('op-none', 1_000, 'confirmed'), 'requested')).toEqual({ ok: false, reason: 'state', current: null });
      });

      it('refuses a move bound to a mode epoch once the mode has switched', async () => {
        const before = await store.getModeState();
        await store.putOperation(operation('op-mode', 1_000, 'requested'));
        await store.setMode('live');
        const after = await store.getModeState();
        expect(after).toEqual({ mode: 'live', epoch: before.epoch + 1 });
        expect(await store.advanceOperation(operation('op-mode', 1_000, 'confirmed'), 'requested', { modeEpoch: before.epoch })).toEqual({ ok: false, reason: 'mode', epoch: after.epoch });
        expect((await store.getOperation('op-mode'))?.state).toBe('requested');
        expect(await store.advanceOperation(operation('op-mode', 1_000, 'confirmed'), 'requested', { modeEpoch: after.epoch })).toEqual({ ok: true });
      });
    });

    describe('switchMode', () => {
      it('refuses when the switch’s own operation is no longer confirmed (a Cancel or recovery won)', async () => {
        await store.putOperation(operation('op-gone', 1_000, 'cancelled'));
        expect(await store.switchMode('live', 'op-gone')).toEqual({ switched: false, lost: true });
        expect(await store.getMode()).toBeNull();
      });

      it('reads states of records no JSON reader accepts (a name cut inside an emoji)', async () => {
        const broken = { ...operation('op-odd', 1_000, 'requested'), requestedBy: { userId: 'u9', name: '\ud83d', chatId: 'c1' } };
        await store.putOperation(broken);
        expect(await store.advanceOperation({ ...broken, state: 'cancelled' }, 'requested')).toEqual({ ok: true });
        await store.putOperation({ ...operation('op-sw', 2_000, 'confirmed'), requestedBy: { userId: 'u9', name: '\ud83d', chatId: 'c1' } });
        expect(await store.switchMode('live', 'op-sw')).toMatchObject({ switched: true });
      });

      it('switches only when flat: previews do not count, an operation past its preview and an open position do', async () => {
        await store.putOperation(operation('op-preview', 1_000, 'requested'));
        await store.putOperation(operation('op-switch', 1_000, 'confirmed'));
        const first = await store.switchMode('live', 'op-switch');
        expect(first).toEqual({ switched: true, epoch: (await store.getModeState()).epoch });
        expect(await store.getMode()).toBe('live');

        await store.putOperation(operation('op-busy', 2_000, 'placing'));
        expect(await store.switchMode('paper', 'op-switch')).toEqual({ switched: false, openPositions: 0, busyOperations: 1 });
        await store.advanceOperation(operation('op-busy', 2_000, 'failed'), 'placing');
        await store.putPosition(position('p1', 3_000));
        expect(await store.switchMode('paper', 'op-switch')).toEqual({ switched: false, openPositions: 1, busyOperations: 0 });
        expect(await store.getMode()).toBe('live');
      });
    });

    describe('recordFill', () => {
      it('records the fill and its ledger lines once', async () => {
        const first = fill('coid-1', '65000.5');
        expect(await store.recordFill(first, [entry('l1', '-975.0075'), entry('l2', '0.015', 'BTC')])).toBeNull();
        expect(plain(await store.getFill('coid-1'))).toEqual(plain(first));
        expect(ids(await store.listLedger())).toEqual(['l1', 'l2']);
      });

      it('returns the stored fill and writes nothing on a repeat with the same client order id', async () => {
        const first = fill('coid-1', '65000.5');
        await store.recordFill(first, [entry('l1', '-975.0075')]);

        const repeat = await store.recordFill(fill('coid-1', '99999'), [entry('l9', '-1'), entry('l10', '1')]);
        expect(repeat?.avgPrice.equals('65000.5')).toBe(true);
        expect(plain(repeat)).toEqual(plain(first));
        expect((await store.getFill('coid-1'))?.avgPrice.toString()).toBe('65000.5');
        expect(ids(await store.listLedger())).toEqual(['l1']);
      });

      it('writes exactly once when two calls with the same id race', async () => {
        const results = await Promise.all([
          store.recordFill(fill('coid-1', '100'), [entry('a1', '1'), entry('a2', '2')]),
          store.recordFill(fill('coid-1', '200'), [entry('b1', '3'), entry('b2', '4')]),
        ]);
        expect(results.filter((result) => result === null)).toHaveLength(1);
        const stored = await store.getFill('coid-1');
        const returned = results.find((result) => result !== null);
        expect(plain(returned)).toEqual(plain(stored));
        const ledgerIds = ids(await store.listLedger());
        expect(ledgerIds).toHaveLength(2);
        expect([['a1', 'a2'], ['b1', 'b2']]).toContainEqual(ledgerIds);
        // The winner's fill and the winner's ledger lines go together.
        expect(ledgerIds[0]).toBe(stored?.avgPrice.equals('100') ? 'a1' : 'b1');
      });

      it('records fills with different client order ids independently', async () => {
        expect(await store.recordFill(fill('coid-1'), [entry('l1', '1')])).toBeNull();
        expect(await store.recordFill(fill('coid-2'), [entry('l2', '2')])).toBeNull();
        expect(ids(await store.listLedger())).toEqual(['l1', 'l2']);
        expect((await store.getFill('coid-2'))?.orderId).toBe('venue-coid-2');
      });

      it('marks its ledger lines, so appendLedger of the same first id is refused', async () => {
        await store.recordFill(fill('coid-1'), [entry('l1', '1')]);
        expect(await store.appendLedger([entry('l1', '1')])).toBe(false);
        expect(ids(await store.listLedger())).toEqual(['l1']);
      });
    });

    describe('appendLedger', () => {
      it('lists the ledger from any line on, for readers that keep running sums', async () => {
        await store.appendLedger([entry('r1', '1'), entry('r2', '2')]);
        await store.appendLedger([entry('r3', '3')]);
        expect((await store.listLedger(0)).map((e) => e.id)).toEqual(['r1', 'r2', 'r3']);
        expect((await store.listLedger(2)).map((e) => e.id)).toEqual(['r3']);
        expect(await store.listLedger(3)).toEqual([]);
      });

      it('appends in order and refuses a batch whose first id is already there', async () => {
        expect(await store.appendLedger([entry('f1', '0.5'), entry('f2', '-0.5')])).toBe(true);
        expect(await store.appendLedger([entry('f3', '1')])).toBe(true);
        expect(await store.appendLedger([entry('f1', '0.5'), entry('f9', '7')])).toBe(false);
        expect(ids(await store.listLedger())).toEqual(['f1', 'f2', 'f3']);
      });

      it('writes one of two racing batches with the same first id', async () => {
        const written = await Promise.all([
          store.appendLedger([entry('funding-1', '0.1')]),
          store.appendLedger([entry('funding-1', '0.1')]),
        ]);
        expect(written.filter(Boolean)).toHaveLength(1);
        expect(ids(await store.listLedger())).toEqual(['funding-1']);
      });

      it('writes nothing for an empty batch', async () => {
        expect(await store.appendLedger([])).toBe(false);
        expect(await store.listLedger()).toEqual([]);
      });
    });

    describe('Decimal exactness', () => {
      const amounts = [
        '0.3',
        '123456789012345678901234567890',
        '123456789012345678.901234567890123456',
        '-98765.4321',
        '0.00000001',
        '-0.000000000000000000000000000001',
        '0',
      ];

      it('reads back every ledger amount digit for digit', async () => {
        await store.appendLedger(amounts.map((amount, i) => entry(`x${i}`, amount)));
        const got = await store.listLedger();
        expect(got.map((line) => line.amount.toString())).toEqual(amounts);
        got.forEach((line, i) => {
          expect(line.amount).toBeInstanceOf(Decimal);
          expect(line.amount.equals(amounts[i]!)).toBe(true);
        });
      });

      it('keeps a computed 0.1 + 0.2 at exactly 0.3 and sums without drift', async () => {
        const sum = new Decimal('0.1').plus('0.2');
        await store.appendLedger([entry('s1', sum), entry('s2', '0.00000001'), entry('s3', '-0.30000001')]);
        const got = await store.listLedger();
        expect(got[0]?.amount.equals('0.3')).toBe(true);
        const total = got.reduce((acc, line) => acc.plus(line.amount), new Decimal(0));
        expect(total.isZero()).toBe(true);
      });

      it('keeps exact amounts in fills and positions', async () => {
        const precise = { ...fill('coid-1'), feeUsd: new Decimal('0.000000000000000000000123456789') };
        await store.recordFill(precise, []);
        expect((await store.getFill('coid-1'))?.feeUsd.toString()).toBe('0.000000000000000000000123456789');

        const p = position('p1', 1_000, 'closed');
        p.realisedPnlUsd = new Decimal('-999999999999999999999.999999999');
        await store.putPosition(p);
        expect((await store.getPosition('p1'))?.realisedPnlUsd?.toString()).toBe('-999999999999999999999.999999999');
      });
    });

    describe('audit', () => {
      it('returns the newest entries first, up to the limit', async () => {
        for (const atMs of [1, 2, 3, 4, 5]) await store.appendAudit(audit(atMs));
        expect((await store.recentAudit(3)).map((e) => e.atMs)).toEqual([5, 4, 3]);
        expect((await store.recentAudit(100)).map((e) => e.atMs)).toEqual([5, 4, 3, 2, 1]);
        expect(await store.recentAudit(0)).toEqual([]);
        expect(await store.recentAudit(1)).toEqual([audit(5)]);
      });

      it('keeps only the newest 10 000 entries', async () => {
        await Promise.all(Array.from({ length: 10_005 }, (_, i) => store.appendAudit(audit(i + 1))));
        const kept = await store.recentAudit(20_000);
        expect(kept).toHaveLength(10_000);
        expect(kept[0]?.atMs).toBe(10_005);
        expect(kept.at(-1)?.atMs).toBe(6);
      });
    });

    describe('mode', () => {
      it('is null until set, then the last value set', async () => {
        expect(await store.getMode()).toBeNull();
        await store.setMode('paper');
        expect(await store.getMode()).toBe('paper');
        await store.setMode('live');
        expect(await store.getMode()).toBe('live');
      });
    });

    describe('values and claims', () => {
      it('stores a value with its Decimals, overwrites it, and expires it after its ttl', async () => {
        expect(await store.getValue('scan')).toBeNull();
        await store.putValue('scan', { rows: [{ coin: 'BTC', apr: new Decimal('10.95') }] });
        const read = await store.getValue<{ rows: { coin: string; apr: Decimal }[] }>('scan');
        expect(read?.rows[0]?.apr.toString()).toBe('10.95');
        await store.putValue('scan', { rows: [] });
        expect(await store.getValue('scan')).toEqual({ rows: [] });
        await store.putValue('short', 'x', 30);
        expect(await store.getValue('short')).toBe('x');
        await new Promise((resolve) => setTimeout(resolve, 60));
        expect(await store.getValue('short')).toBeNull();
      });

      it('claims a key once, even for concurrent callers, until the ttl passes', async () => {
        const results = await Promise.all(Array.from({ length: 5 }, () => store.claimOnce('update:42', 50)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.claimOnce('update:43', 50)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 80));
        expect(await store.claimOnce('update:42', 50)).toBe(true);
      });
    });
  });
}
