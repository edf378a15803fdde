import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Decimal, Engine, ManualClock, type EngineConfig, type EngineEvent, type Requester } from '../../src/engine/index.js';
import { FaultPlan, LOST_READS_FAIL_MS, STALE_FILL_DELAY_MS } from '../../src/engine/exchange/faults.js';
import type { Exchange } from '../../src/engine/exchange/port.js';
import { SimulatedExchange } from '../../src/engine/exchange/simulatedExchange.js';
import { sumLedger } from '../../src/engine/execution/paperExecutor.js';
import { MemoryStore } from '../../src/engine/store/memoryStore.js';
import type { Store } from '../../src/engine/store/port.js';
import { InProcessLocks, runHolding, type Locks } from '../../src/engine/position/locks.js';
import { startLiveEngine, testEngineConfig } from '../support/engineHarness.js';

/**
 * Regression tests of the review "Every leg accounted for": each scenario that broke the promise
 * "a hedge is whole, or the team is told loudly" on the earlier code, on the simulated venue.
 */

const ALICE: Requester = { userId: 'u1', name: 'alice', chatId: 'ops' };
const BOB: Requester = { userId: 'u2', name: 'bob', chatId: 'ops' };
const ZERO = new Decimal(0);

/** A gate a test opens by hand: calls wait at it until then. */
function gate(): { wait: () => Promise<void>; open: () => void; waiting: () => number } {
  let release: () => void = () => undefined;
  let waiting = 0;
  let opened = false;
  const ready = new Promise<void>((resolve) => (release = resolve));
  return {
    wait: async () => {
      if (opened) return;
      waiting += 1;
      await ready;
    },
    open: () => {
      opened = true;
      release();
    },
    waiting: () => waiting,
  };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    if (check()) return;
    await flush();
  }
  throw new Error(`never happened: ${what}`);
}

interface Live {
  engine: Engine;
  clock: ManualClock;
  store: Store;
  venue: SimulatedExchange;
  events: EngineEvent[];
}

/** An engine trading live on the simulated venue (which also serves market data), already in live mode. */
async function startLive(
  options: { faults?: string; config?: Partial<EngineConfig>; wrap?: (venue: SimulatedExchange) => Exchange; store?: Store; legLatencyMs?: number } = {},
): Promise<Live> {
  const clock = new ManualClock();
  const store = options.store ?? new MemoryStore();
  const venue = new SimulatedExchange({ clock, seed: 7, faults: FaultPlan.parse(options.faults), legLatencyMs: options.legLatencyMs ?? 0 });
  const live = options.wrap ? options.wrap(venue) : venue;
  const { engine, events } = await startLiveEngine({ clock, store, venue, live: live, config: options.config });
  return { engine, clock, store, venue, events };
}

/** What the venue holds of a coin: spot coins and the perp short (positive). */
async function held(venue: SimulatedExchange, coin: string): Promise<{ spot: string; perp: string }> {
  const b = await venue.fetchBalances();
  return { spot: (b.spot.get(coin) ?? ZERO).toString(), perp: (b.perp.get(`${coin}-PERP`) ?? ZERO).neg().toString() };
}

async function recorded(store: Store, coin: string): Promise<{ spot: string; perp: string }> {
  const open = (await store.listOpenPositions()).filter((p) => p.coin === coin);
  const sum = (pick: (p: (typeof open)[number]) => Decimal): string => open.reduce((s, p) => s.plus(pick(p)), ZERO).toString();
  return { spot: sum((p) => p.spotLeg.qty), perp: sum((p) => p.perpLeg.qty) };
}

/** Moves the clock in steps, letting woken work run between them. */
async function pass(clock: ManualClock, ms: number, stepMs = 250): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    await flush();
    await clock.advance(stepMs);
  }
  await flush();
}

describe('1. a filled order is never taken for a refusal', () => {
  for (const leg of ['spot', 'perp'] as const) {
    it(`${leg} order fills, its answer and reads fail with a rate limit (SIM_FAULTS lost): unfinished, nothing reversed, then opened from the venue's answer`, async () => {
      const h = await startLive({ faults: `${leg}:ETH:lost` });
      const preview = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
      const confirming = h.engine.confirm(preview.operation.id, ALICE).then(
        () => null,
        (err: unknown) => err as Error,
      );
      await pass(h.clock, 3_000);
      const error = await confirming;
      expect(error).toMatchObject({ code: 'ORDER_OUTCOME_UNKNOWN' });
      // Nothing was assumed: no rollback, no "flat", the operation is still being placed.
      expect(h.events.map((e) => e.type)).not.toContain('rollback');
      expect(h.events.find((e) => e.type === 'unresolved')).toMatchObject({ critical: true, orders: [expect.objectContaining({ request: expect.objectContaining({ kind: leg }) })] });
      expect((await h.store.getOperation(preview.operation.id))?.state).toBe('placing');
      // Both legs did fill at the venue; once its reads work again, the next delta check finishes the open.
      await pass(h.clock, LOST_READS_FAIL_MS);
      await h.engine.refreshPrices();
      await h.engine.checkDeltas();
      expect((await h.store.getOperation(preview.operation.id))?.state).toBe('open');
      expect(await recorded(h.store, 'ETH')).toEqual(await held(h.venue, 'ETH'));
      expect(h.events.find((e) => e.type === 'recovery')).toMatchObject({ outcome: expect.stringMatching(/position \w+ is open/) });
      expect(h.events.filter((e) => e.type === 'reconcile')).toEqual([]);
    });
  }

  it('booking the fill fails after the order went out: the order is looked up and booked, the hedge opens', async () => {
    const store = new MemoryStore();
    let failures = 0;
    const flaky: Store = Object.create(store) as Store;
    flaky.recordFill = async (fill, entries) => {
      if (fill.kind === 'perp' && failures === 0) {
        failures += 1;
        // The write reached Redis, the answer did not.
        await store.recordFill(fill, entries);
        throw new Error('Connection is closed');
      }
      return store.recordFill(fill, entries);
    };
    const h = await startLive({ store: flaky });
    const preview = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const { position } = await h.engine.confirm(preview.operation.id, ALICE);
    expect(failures).toBe(1);
    expect(position?.perpLeg.qty.toString()).toBe(position?.spotLeg.qty.toString());
    expect(await recorded(store, 'ETH')).toEqual(await held(h.venue, 'ETH'));
    expect(h.events.map((e) => e.type)).toEqual(['opened']);
  });

  it('an order still working when the settle loop gives up (SIM_FAULTS stale) is never stored as a 0 fill; it opens once the venue fills it', async () => {
    const h = await startLive({ faults: 'perp:ETH:stale' });
    const preview = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const confirming = h.engine.confirm(preview.operation.id, ALICE).catch((err: unknown) => err as Error);
    await pass(h.clock, 3_000);
    expect(await confirming).toMatchObject({ code: 'ORDER_OUTCOME_UNKNOWN' });
    expect(await h.store.getFill(`${preview.operation.id}p`)).toBeNull();
    expect(await held(h.venue, 'ETH')).toMatchObject({ perp: '0' });
    await pass(h.clock, STALE_FILL_DELAY_MS);
    await h.engine.refreshPrices();
    await h.engine.checkDeltas();
    expect((await h.store.getOperation(preview.operation.id))?.state).toBe('open');
    expect((await h.store.getFill(`${preview.operation.id}p`))?.filledQty.gt(0)).toBe(true);
    expect(await recorded(h.store, 'ETH')).toEqual(await held(h.venue, 'ETH'));
  });
});

/**
 * A venue whose next balance read, once a gate is set, reads the spot wallet at once and the perp
 * account only when the gate opens, as a real adapter's two reads straddle fills.
 */
function splitBalances(venue: SimulatedExchange, hold: { gate: ReturnType<typeof gate> | null }): Exchange {
  const wrapped: Exchange = Object.create(venue) as Exchange;
  wrapped.fetchBalances = async () => {
    const g = hold.gate;
    hold.gate = null;
    const { spot } = await venue.fetchBalances();
    if (g) await g.wait();
    const { perp } = await venue.fetchBalances();
    return { spot, perp };
  };
  return wrapped;
}

/** A venue that holds back the execution of perp buys while the gate is set. */
function slowPerpBuys(venue: SimulatedExchange, hold: { gate: ReturnType<typeof gate> | null }): Exchange {
  const wrapped: Exchange = Object.create(venue) as Exchange;
  wrapped.placeOrder = async (request) => {
    const g = hold.gate;
    if (g && request.kind === 'perp' && request.side === 'buy') await g.wait();
    return venue.placeOrder(request);
  };
  return wrapped;
}

describe('2. surveillance holds the truth', () => {
  it('a delta check during a /close (spot sold, perp buy not yet filled) raises no false drift and closes nothing', async () => {
    const hold: { gate: ReturnType<typeof gate> | null } = { gate: null };
    const h = await startLive({ wrap: (v) => slowPerpBuys(v, hold) });
    const open = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    await h.engine.confirm(open.operation.id, ALICE);
    const g = gate();
    hold.gate = g;
    const close = await h.engine.previewClose('ETH', ALICE);
    const closing = h.engine.confirm(close.operation.id, ALICE);
    await until(() => g.waiting() === 1, 'the perp buy');
    expect(await held(h.venue, 'ETH')).toMatchObject({ spot: '0' });
    const checking = h.engine.checkDeltas();
    for (let i = 0; i < 20; i += 1) await flush();
    g.open();
    await Promise.all([closing, checking]);
    expect(h.events.filter((e) => e.type === 'drift' || e.type === 'reconcile' || e.type === 'error')).toEqual([]);
    expect(await held(h.venue, 'ETH')).toEqual({ spot: '0', perp: '0' });
    expect(await h.store.listOpenPositions()).toEqual([]);
  });

  it('a delta check whose two balance reads straddle an /open’s fills does not emergency-close the new hedge', async () => {
    const hold: { gate: ReturnType<typeof gate> | null } = { gate: null };
    const h = await startLive({ wrap: (v) => splitBalances(v, hold), legLatencyMs: 100 });
    const open = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const g = gate();
    hold.gate = g;
    const checking = h.engine.checkDeltas();
    await until(() => g.waiting() === 1, 'the spot read');
    await Promise.all([h.engine.confirm(open.operation.id, ALICE), pass(h.clock, 500, 50)]);
    g.open();
    await checking;
    expect(h.events.map((e) => e.type)).toEqual(['opened']);
    expect((await h.store.listOpenPositions()).map((p) => p.coin)).toEqual(['ETH']);
    expect(await recorded(h.store, 'ETH')).toEqual(await held(h.venue, 'ETH'));
  });

  it('an oversized leg is alerted with the leg and quantity, and opens of that coin wait until it is resolved', async () => {
    const h = await startLive();
    const open = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const { position } = await h.engine.confirm(open.operation.id, ALICE);
    // Someone shorts 0.1 ETH more by hand on the same account.
    await h.venue.placeOrder({ clientOrderId: 'byhand1', coin: 'ETH', kind: 'perp', symbol: 'ETH/USDT:USDT', side: 'sell', qty: new Decimal('0.1'), reduceOnly: false });
    await h.engine.checkDeltas();
    const alert = h.events.find((e) => e.type === 'reconcile');
    expect(alert?.type === 'reconcile' && alert.differences.map((d) => [d.coin, d.leg, d.differenceQty.toString()])).toEqual([['ETH', 'perp', '0.1']]);
    // The hedge itself is whole, so nothing is closed; the extra short is for a person to decide.
    expect((await h.store.listOpenPositions()).map((p) => p.id)).toEqual([position?.id]);
    const status = await h.engine.status();
    expect(status.unaccounted.map((d) => `${d.coin} ${d.leg} ${d.differenceQty.toString()}`)).toEqual(['ETH perp 0.1']);
    await h.engine.previewClose('ETH', ALICE);
    await expect(h.engine.previewOpen('ETH', new Decimal(1000), ALICE)).rejects.toMatchObject({ code: 'RISK_TRADING_HALTED' });
    // Alerted once, not at every check.
    await h.engine.checkDeltas();
    expect(h.events.filter((e) => e.type === 'reconcile')).toHaveLength(1);
    // Bought back by hand: the next check says it matches again.
    await h.venue.placeOrder({ clientOrderId: 'byhand2', coin: 'ETH', kind: 'perp', symbol: 'ETH/USDT:USDT', side: 'buy', qty: new Decimal('0.1'), reduceOnly: true });
    await h.engine.checkDeltas();
    expect(h.events.find((e) => e.type === 'reconciled')).toMatchObject({ coins: ['ETH'] });
    expect(await h.engine.haltReason()).toBeNull();
  });

  it('a spot holding no record accounts for is found by the periodic check, not only at start', async () => {
    const h = await startLive();
    expect(h.events.filter((e) => e.type === 'reconcile')).toEqual([]);
    await h.venue.placeOrder({ clientOrderId: 'byhand3', coin: 'SOL', kind: 'spot', symbol: 'SOL/USDT', side: 'buy', qty: new Decimal('2'), reduceOnly: false });
    await h.engine.checkDeltas();
    const alert = h.events.find((e) => e.type === 'reconcile');
    expect(alert?.type === 'reconcile' && alert.differences.map((d) => [d.coin, d.leg, d.heldQty.toString(), d.recordedQty.toString()])).toEqual([['SOL', 'spot', '2', '0']]);
    // An admin accepts it as held outside the hedges: no more alert, opens go on.
    expect((await h.engine.resumeTrading(ALICE)).map((d) => d.coin)).toEqual(['SOL']);
    await h.engine.checkDeltas();
    expect(h.events.filter((e) => e.type === 'reconcile')).toHaveLength(1);
    await expect(h.engine.previewOpen('SOL', new Decimal(1000), ALICE)).resolves.toBeDefined();
  });
});

/** A venue whose ticker reads wait at a gate while it is set (a slow confirm check). */
function slowTickers(venue: SimulatedExchange, hold: { gate: ReturnType<typeof gate> | null }): SimulatedExchange {
  const wrapped = Object.create(venue) as SimulatedExchange;
  wrapped.fetchTickers = async (symbols) => {
    const g = hold.gate;
    if (g) await g.wait();
    return venue.fetchTickers(symbols);
  };
  return wrapped;
}

describe('3. Cancel and Confirm: one of them wins, and the chat is told which', () => {
  it('a Cancel pressed while the Confirm is checking waits for it and is refused; the hedge opened is the only outcome', async () => {
    const clock = new ManualClock();
    const hold: { gate: ReturnType<typeof gate> | null } = { gate: null };
    const venue = slowTickers(new SimulatedExchange({ clock, seed: 7 }), hold);
    const engine = await Engine.create({ config: testEngineConfig(), clock, store: new MemoryStore(), exchange: venue, logger: pino({ level: 'silent' }) });
    await engine.start();
    const preview = await engine.previewOpen('ETH', new Decimal(2000), ALICE);
    hold.gate = gate();
    const confirming = engine.confirm(preview.operation.id, ALICE);
    await until(() => hold.gate?.waiting() === 1, 'the confirm check');
    const cancelling = engine.cancel(preview.operation.id, ALICE).then(
      () => 'cancelled',
      (err: unknown) => (err as Error).message,
    );
    await flush();
    const g = hold.gate;
    hold.gate = null;
    g.open();
    const { position } = await confirming;
    expect(position?.coin).toBe('ETH');
    expect(await cancelling).toMatch(/already open/);
    expect((await engine.getOperation(preview.operation.id))?.state).toBe('open');
  });

  it('a Cancel that wins makes the Confirm refuse, and nothing is placed', async () => {
    const h = await startLive();
    const preview = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    await h.engine.cancel(preview.operation.id, ALICE);
    await expect(h.engine.confirm(preview.operation.id, ALICE)).rejects.toMatchObject({ code: 'OPERATION_STATE' });
    expect(await held(h.venue, 'ETH')).toEqual({ spot: '0', perp: '0' });
  });

  it('a cancel can never overwrite an operation that is placing (compare-and-set)', async () => {
    const store = new MemoryStore();
    const h = await startLive({ store, legLatencyMs: 100 });
    const preview = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const confirming = h.engine.confirm(preview.operation.id, ALICE);
    await until(() => h.clock.pendingSleeps() > 0, 'the orders in flight');
    const placing = await store.getOperation(preview.operation.id);
    expect(placing?.state).toBe('placing');
    const stale = { ...placing!, state: 'cancelled' as const };
    expect(await store.advanceOperation(stale, 'requested')).toEqual({ ok: false, reason: 'state', current: 'placing' });
    await pass(h.clock, 500, 50);
    await confirming;
    expect((await store.getOperation(preview.operation.id))?.state).toBe('open');
  });

  it('cancelling "switch to LIVE" during its balance check: the answer and the mode agree', async () => {
    const clock = new ManualClock();
    const venue = new SimulatedExchange({ clock, seed: 7 });
    const hold = { gate: gate() };
    const live: Exchange = Object.create(venue) as Exchange;
    live.fetchBalances = async () => {
      await hold.gate.wait();
      return venue.fetchBalances();
    };
    const engine = await Engine.create({ config: testEngineConfig(), clock, store: new MemoryStore(), exchange: venue, liveExchange: live, logger: pino({ level: 'silent' }) });
    await engine.start();
    hold.gate.open();
    const preview = await engine.previewMode('live', ALICE);
    hold.gate = gate();
    const switching = engine.confirm(preview.id, ALICE);
    await until(() => hold.gate.waiting() === 1, 'the balance check');
    const cancelling = engine.cancel(preview.id, ALICE).then(
      () => 'cancelled',
      (err: unknown) => (err as Error).message,
    );
    await flush();
    hold.gate.open();
    await switching;
    expect(await cancelling).toMatch(/already done/);
    expect(await engine.currentMode()).toBe('live');
  });
});

describe('4. a preview is bound to the mode it was made in', () => {
  it('a LIVE preview cannot be confirmed after /mode paper; no live order goes out', async () => {
    const h = await startLive();
    const preview = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    await h.engine.setMode('paper', ALICE);
    await expect(h.engine.confirm(preview.operation.id, ALICE)).rejects.toThrow(/expired: the mode was switched to paper before it was confirmed/);
    expect(await held(h.venue, 'ETH')).toEqual({ spot: '0', perp: '0' });
    expect((await h.engine.getOperation(preview.operation.id))?.state).toBe('expired');
  });

  it('the switch is refused while an operation is past its preview, and /status shows hedges of the other mode', async () => {
    const h = await startLive();
    const preview = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    await h.engine.confirm(preview.operation.id, ALICE);
    await expect(h.engine.setMode('paper', ALICE)).rejects.toThrow(/not flat: 1 open hedge/);
    // A live hedge left from before (e.g. restored from a backup) while the bot is in paper mode.
    const position = (await h.store.listOpenPositions())[0]!;
    await h.store.putPosition({ ...position, id: 'pleft', coin: 'ETH', mode: 'live' });
    const stored = await h.store.getModeState();
    await h.store.setMode('paper');
    expect((await h.store.getModeState()).epoch).toBe(stored.epoch + 1);
    const status = await h.engine.status();
    expect(status.mode).toBe('paper');
    expect(status.positions.map((v) => `${v.position.mode} ${v.position.coin}`)).toContain('live ETH');
    const pnl = await h.engine.pnl();
    expect(pnl.otherModes.map((r) => r.mode)).toEqual(['live']);
  });
});

describe('5. risk limits hold across concurrent confirms on different coins', () => {
  it('two confirms at once with room for one more hedge: exactly one opens', async () => {
    const h = await startLive({ config: { limits: { ...testEngineConfig().limits, maxOpenPositions: 1 } }, legLatencyMs: 100 });
    const btc = await h.engine.previewOpen('BTC', new Decimal(2000), ALICE);
    const eth = await h.engine.previewOpen('ETH', new Decimal(2000), BOB);
    const results = Promise.all(
      [btc, eth].map((p, i) =>
        h.engine.confirm(p.operation.id, i === 0 ? ALICE : BOB).then(
          () => 'opened',
          (err: unknown) => (err as { code?: string }).code ?? 'error',
        ),
      ),
    );
    await pass(h.clock, 1_000, 50);
    expect((await results).sort()).toEqual(['RISK_MAX_OPEN_POSITIONS', 'opened']);
    expect(await h.store.listOpenPositions()).toHaveLength(1);
  });

  it('two confirms at once that together exceed the exposure limit: one opens', async () => {
    const h = await startLive({ config: { limits: { ...testEngineConfig().limits, maxTotalExposureUsd: new Decimal(3000) } }, legLatencyMs: 100 });
    const btc = await h.engine.previewOpen('BTC', new Decimal(2000), ALICE);
    const eth = await h.engine.previewOpen('ETH', new Decimal(2000), BOB);
    const results = Promise.all([btc, eth].map((p) => h.engine.confirm(p.operation.id, ALICE).then(() => 'opened', (err: unknown) => (err as { code?: string }).code ?? 'error')));
    await pass(h.clock, 1_000, 50);
    expect((await results).sort()).toEqual(['RISK_MAX_TOTAL_EXPOSURE', 'opened']);
  });
});

describe('6. realised PnL counts every close attempt', () => {
  it('a close that needed a second attempt books both attempts’ fills and fees', async () => {
    const clock = new ManualClock();
    const faults = new FaultPlan();
    const venue = new SimulatedExchange({ clock, seed: 7 });
    const store = new MemoryStore();
    const engine = await Engine.create({ config: testEngineConfig({ paperFaults: faults }), clock, store, exchange: venue, logger: pino({ level: 'silent' }) });
    await engine.start();
    const open = await engine.previewOpen('ETH', new Decimal(5000), ALICE);
    const { position } = await engine.confirm(open.operation.id, ALICE);
    // The perp close is refused on both tries; the spot leg sells.
    (faults as unknown as { faults: unknown[] }).faults = [{ kind: 'perp', coin: 'ETH', fault: 'reject' }];
    const first = await engine.previewClose('ETH', ALICE);
    await expect(engine.confirm(first.operation.id, ALICE)).rejects.toThrow(/close incomplete/);
    (faults as unknown as { faults: unknown[] }).faults = [];
    venue.shock('ETH', new Decimal('1.03'));
    await clock.advance(1_000);
    await engine.refreshPrices();
    const second = await engine.previewClose('ETH', ALICE);
    const { position: closed } = await engine.confirm(second.operation.id, ALICE);
    // The cash the hedge's orders moved, from the ledger: what realised PnL must equal.
    const ledger = await store.listLedger();
    const ops = [open.operation.id, first.operation.id, second.operation.id];
    const cash = ledger.filter((e) => e.asset === 'USDT' && e.kind !== 'funding' && ops.some((id) => e.ref.startsWith(id))).reduce((s, e) => s.plus(e.amount), ZERO);
    expect(closed?.id).toBe(position?.id);
    expect(closed?.realisedPnlUsd?.toString()).toBe(cash.toString());
    const balances = sumLedger(ledger, 'paper');
    expect((balances.spot.get('ETH') ?? ZERO).toString()).toBe((closed?.spotDustQty ?? ZERO).toString());
  });
});

/** Locks whose leases the test can declare lost, as a Redis lock whose renewals stalled past its ttl. */
class LosableLocks implements Locks {
  lost = false;
  private readonly inner = new InProcessLocks();

  withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.inner.withLock(key, () => runHolding({ key, lostReason: () => (this.lost ? 'not renewed for 16000 ms' : null) }, work));
  }
}

describe('8. a lost coin lock stops its holder before the next order', () => {
  it('the holder sends no rollback after losing the lock; the next holder finishes the operation from the venue', async () => {
    const locks = new LosableLocks();
    const clock = new ManualClock();
    const venue = new SimulatedExchange({ clock, seed: 7, faults: FaultPlan.parse('spot:ETH:reject'), legLatencyMs: 100 });
    const store = new MemoryStore();
    const { engine, events } = await startLiveEngine({ clock, store, venue, locks });
    const preview = await engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const confirming = engine.confirm(preview.operation.id, ALICE).catch((err: unknown) => err as Error);
    await until(() => clock.pendingSleeps() > 0, 'both legs in flight');
    // The renewals stall (a Redis pause, a GC pause) while both legs are out.
    locks.lost = true;
    await pass(clock, 300, 50);
    expect(await confirming).toMatchObject({ code: 'LOCK_LOST' });
    // The perp sell filled; no undo was sent by the holder that lost its lock; the operation was left as it was.
    expect(await held(venue, 'ETH')).toMatchObject({ spot: '0' });
    expect((await held(venue, 'ETH')).perp).not.toBe('0');
    expect((await store.getOperation(preview.operation.id))?.state).toBe('placing');
    expect(events.map((e) => e.type)).not.toContain('rollback');
    // Whoever holds the lock next (here the next delta check) rolls it back from the venue's answers.
    locks.lost = false;
    const checking = engine.checkDeltas();
    await pass(clock, 500, 50);
    await checking;
    expect((await store.getOperation(preview.operation.id))?.state).toBe('rolled_back');
    expect(await held(venue, 'ETH')).toEqual({ spot: '0', perp: '0' });
  });
});

describe('an operation the venue never lets finish is not forgotten', () => {
  it('is alerted again after ten minutes unfinished, once per ten minutes', async () => {
    let reads = true;
    const h = await startLive({
      faults: 'perp:ETH:lost',
      wrap: (venue) => {
        const wrapped: Exchange = Object.create(venue) as Exchange;
        wrapped.fetchOrderByClientId = async (symbol, id) => {
          if (!reads) throw new Error('venue read failing');
          return venue.fetchOrderByClientId(symbol, id);
        };
        return wrapped;
      },
    });
    const preview = await h.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const confirming = h.engine.confirm(preview.operation.id, ALICE).catch((err: unknown) => err as Error);
    await pass(h.clock, 3_000);
    expect(await confirming).toMatchObject({ code: 'ORDER_OUTCOME_UNKNOWN' });
    reads = false;
    const stillUnfinished = (): EngineEvent[] => h.events.filter((e) => e.type === 'error' && e.code === 'STILL_UNFINISHED');
    await h.clock.advance(5 * 60_000);
    await h.engine.refreshPrices();
    await h.engine.checkDeltas();
    expect(stillUnfinished()).toEqual([]);
    await h.clock.advance(6 * 60_000);
    await h.engine.refreshPrices();
    await h.engine.checkDeltas();
    await h.engine.checkDeltas();
    expect(stillUnfinished()).toHaveLength(1);
    expect(stillUnfinished()[0]).toMatchObject({ critical: true, message: expect.stringMatching(/open ETH \(op \w+\) is still unfinished after 11 min/) });
    reads = true;
    await h.engine.checkDeltas();
    expect((await h.store.getOperation(preview.operation.id))?.state).toBe('open');
  });
});
