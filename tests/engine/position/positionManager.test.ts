import { describe, expect, it } from 'vitest';
import { Decimal, ZERO } from '../../../src/engine/domain/decimal.js';
import {
  DeltaDriftExceeded,
  DeltaHedgeError,
  DeltaHedgeTimeout,
  OperationStateError,
  OrderRejectedError,
} from '../../../src/engine/domain/errors.js';
import { clientOrderId } from '../../../src/engine/domain/ids.js';
import { LATE_FILL_WATCH_MS } from '../../../src/engine/position/positionManager.js';
import type {
  Coin,
  LegKind,
  Operation,
  OperationState,
  OrderRequest,
  Position,
  TradingMode,
} from '../../../src/engine/domain/types.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import { type FaultKind, FaultPlan } from '../../../src/engine/exchange/faults.js';
import {
  START_USDT,
  balanceOf,
  buildHarness,
  flush,
  operation,
  track,
  type Harness,
  type HarnessOptions,
} from '../../support/engine.js';

const d = (v: string | number): Decimal => new Decimal(v);
const BTC_QTY = d('0.02');
const SPOT_TAKER = d('0.001');
const PERP_TAKER = d('0.0005');

let opSeq = 0;

/** Stores a confirmed open operation (as the confirm step of the engine would) and returns it. */
async function putOpen(h: Harness, coin = 'BTC', qty = BTC_QTY, state: OperationState = 'confirmed'): Promise<Operation> {
  const op = operation({ id: `op${++opSeq}t`, coin, qty, state, mode: h.mode, nowMs: h.clock.nowMs() });
  await h.store.putOperation(op);
  return op;
}

async function putClose(h: Harness, position: Position): Promise<Operation> {
  const op = operation({
    id: `op${++opSeq}c`,
    coin: position.coin,
    kind: 'close',
    positionId: position.id,
    mode: h.mode,
    nowMs: h.clock.nowMs(),
  });
  await h.store.putOperation(op);
  return op;
}

async function stateOf(h: Harness, id: string): Promise<Operation> {
  const op = await h.store.getOperation(id);
  if (!op) throw new Error(`operation ${id} missing`);
  return op;
}

/** The price a taker gets now (paper: cached ticker; live: the venue's price at this clock time). */
function taker(h: Harness, symbol: string, side: 'buy' | 'sell'): Decimal {
  const last = h.tickers.get(symbol).last;
  return side === 'buy' ? last.mul('1.0005') : last.mul('0.9995');
}

async function balances(h: Harness) {
  return h.executor.balances();
}

function eventsOf<T extends EngineEvent['type']>(h: Harness, type: T): Extract<EngineEvent, { type: T }>[] {
  return h.events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type);
}

async function expectRejects(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as Error;
  }
  throw new Error(`expected a ${type.name}`);
}

/** Moves the clock once every pending step has reached its next wait (an order's latency or timeout). */
async function advance(h: Harness, ms: number): Promise<void> {
  await flush();
  await h.clock.advance(ms);
}

/** Lets the hedge timeout pass (`ms` more of it) and the three lookups that follow it, 1.5 s of pauses. */
async function giveUp(h: Harness, ms = h.hedgeTimeoutMs): Promise<void> {
  await advance(h, ms);
  for (let i = 0; i < 4; i += 1) await advance(h, 500);
}

/** Opens a BTC hedge with no faults and returns the position. */
async function openBtc(h: Harness, qty = BTC_QTY): Promise<Position> {
  const op = await putOpen(h, 'BTC', qty);
  return h.manager.open(op.id);
}

const modes: TradingMode[] = ['paper', 'live'];

/** A fault plan the test can lift once the open is done, so the close runs clean. */
class LiftableFaults extends FaultPlan {
  lifted = false;
  constructor(private readonly plan: FaultPlan) {
    super();
  }
  override faultFor(kind: LegKind, coin: Coin): FaultKind | null {
    return this.lifted ? null : this.plan.faultFor(kind, coin);
  }
}

describe.each(modes)('PositionManager.open (%s)', (mode) => {
  const harness = (options: HarnessOptions = {}) => buildHarness({ mode, ...options });

  it('sends both legs at the same moment: both are in flight before either answers', async () => {
    const h = await harness({ legLatencyMs: 100 });
    const op = await putOpen(h);
    const opening = track(h.manager.open(op.id));
    await flush();
    expect(h.executor.inFlight()).toEqual([clientOrderId(op.id, 'spot'), clientOrderId(op.id, 'perp')]);
    expect(h.executor.ended()).toEqual([]);
    expect((await stateOf(h, op.id)).state).toBe('placing');
    await advance(h, 99);
    expect(opening.settled()).toBe(false);
    await advance(h, 1);
    const position = await opening.promise;
    const spot = await h.store.getFill(clientOrderId(op.id, 'spot'));
    const perp = await h.store.getFill(clientOrderId(op.id, 'perp'));
    expect(spot!.timestampMs).toBe(perp!.timestampMs);
    expect(h.executor.log.filter((e) => e.event === 'start').map((e) => e.atMs)).toEqual([op.createdAtMs, op.createdAtMs]);
    expect(position.status).toBe('open');
  });

  it('leaves no hedge-timeout wait behind once both legs answered', async () => {
    const h = await harness();
    await openBtc(h);
    expect(h.clock.pendingSleeps()).toBe(0);
  });

  it('opens a position with both legs, moves the operation to open and says so', async () => {
    const h = await harness();
    const op = await putOpen(h);
    const spotPrice = taker(h, 'BTC/USDT', 'buy');
    const perpPrice = taker(h, 'BTC/USDT:USDT', 'sell');
    const position = await h.manager.open(op.id);

    expect(position.coin).toBe('BTC');
    expect(position.mode).toBe(mode);
    expect(position.status).toBe('open');
    expect(position.openOperationId).toBe(op.id);
    expect(position.openedBy).toBe('Ann');
    expect(position.spotLeg).toMatchObject({ kind: 'spot', symbol: 'BTC/USDT', side: 'buy' });
    expect(position.perpLeg).toMatchObject({ kind: 'perp', symbol: 'BTC/USDT:USDT', side: 'sell' });
    expect(position.spotLeg.qty.eq(BTC_QTY) && position.perpLeg.qty.eq(BTC_QTY)).toBe(true);
    expect(position.spotLeg.entryPrice.eq(spotPrice)).toBe(true);
    expect(position.perpLeg.entryPrice.eq(perpPrice)).toBe(true);
    expect(position.spotLeg.entryFeeUsd.eq(BTC_QTY.mul(spotPrice).mul(SPOT_TAKER))).toBe(true);
    expect(position.perpLeg.entryFeeUsd.eq(BTC_QTY.mul(perpPrice).mul(PERP_TAKER))).toBe(true);
    expect(await h.store.getPosition(position.id)).toEqual(position);

    const stored = await stateOf(h, op.id);
    expect(stored.state).toBe('open');
    expect(stored.positionId).toBe(position.id);
    expect(stored.steps.map((s) => s.state)).toEqual(['confirmed', 'placing', 'open']);

    const [opened, ...more] = eventsOf(h, 'opened');
    expect(more).toHaveLength(0);
    expect(opened!.position).toEqual(position);
    expect(opened!.spot.clientOrderId).toBe(`${op.id}s`);
    expect(opened!.perp.clientOrderId).toBe(`${op.id}p`);
    expect(opened!.operation.state).toBe('open');
    expect(h.events.filter((e) => e.critical)).toHaveLength(0);

    const after = await balances(h);
    expect(balanceOf(after, 'spot', 'BTC').eq(BTC_QTY)).toBe(true);
    expect(balanceOf(after, 'perp', 'BTC-PERP').eq(BTC_QTY.neg())).toBe(true);
    expect(balanceOf(after, 'spot', 'USDT').eq(START_USDT.minus(BTC_QTY.mul(spotPrice)).minus(position.spotLeg.entryFeeUsd))).toBe(true);
    expect(balanceOf(after, 'perp', 'USDT').eq(START_USDT.plus(BTC_QTY.mul(perpPrice)).minus(position.perpLeg.entryFeeUsd))).toBe(true);
  });

  it('reverses the spot leg when the perp is rejected: rolled back, DeltaHedgeError, balances back less costs', async () => {
    const h = await harness({ faults: 'perp:BTC:reject' });
    const op = await putOpen(h);
    const buyPrice = taker(h, 'BTC/USDT', 'buy');
    const sellPrice = taker(h, 'BTC/USDT', 'sell');

    const err = await expectRejects(h.manager.open(op.id), DeltaHedgeError);
    expect((err as DeltaHedgeError).code).toBe('DELTA_HEDGE_FAILED');
    expect(err.message).toMatch(/perp leg failed/);

    expect(h.executor.started()).toEqual([`${op.id}s`, `${op.id}p`, `${op.id}su`]);
    const reversal = await h.store.getFill(`${op.id}su`);
    expect(reversal).toMatchObject({ kind: 'spot', side: 'sell', clientOrderId: `${op.id}su` });
    expect(reversal!.filledQty.eq(BTC_QTY)).toBe(true);
    expect(await h.store.getFill(`${op.id}p`)).toBeNull();

    const stored = await stateOf(h, op.id);
    expect(stored.state).toBe('rolled_back');
    expect(stored.errorCode).toBe('DELTA_HEDGE_FAILED');
    expect(await h.store.listOpenPositions()).toEqual([]);

    const [rollback, ...more] = eventsOf(h, 'rollback');
    expect(more).toHaveLength(0);
    expect(rollback!.critical).toBe(true);
    expect(rollback!.failedLeg).toBe('perp');
    expect(rollback!.filled.kind).toBe('spot');
    expect(rollback!.filled.clientOrderId).toBe(`${op.id}s`);
    expect(rollback!.reversal?.clientOrderId).toBe(`${op.id}su`);
    expect(rollback!.failure).toMatch(/rejected/);
    expect(eventsOf(h, 'opened')).toHaveLength(0);

    // What the round trip cost, from prices and fee rates alone.
    const buyFee = BTC_QTY.mul(buyPrice).mul(SPOT_TAKER);
    const sellFee = BTC_QTY.mul(sellPrice).mul(SPOT_TAKER);
    const slippageCost = BTC_QTY.mul(buyPrice.minus(sellPrice));
    const after = await balances(h);
    expect(balanceOf(after, 'spot', 'USDT').eq(START_USDT.minus(buyFee).minus(sellFee).minus(slippageCost))).toBe(true);
    expect(balanceOf(after, 'spot', 'BTC').isZero()).toBe(true);
    expect(balanceOf(after, 'perp', 'USDT').eq(START_USDT)).toBe(true);
    expect(balanceOf(after, 'perp', 'BTC-PERP').isZero()).toBe(true);
  });

  it('rolls back a spot fill a coin fee left off-step by selling its whole lot steps (not a failed reversal)', async () => {
    // A venue that takes its fee in the bought coin delivers 0.0199905 BTC for a 0.02 buy.
    const coinFee: HarnessOptions['wrap'] = (inner) => ({
      mode: inner.mode,
      lookup: (symbol, id) => inner.lookup(symbol, id),
      balances: () => inner.balances(),
      async execute(request) {
        const fill = await inner.execute(request);
        return request.kind === 'spot' && request.side === 'buy' ? { ...fill, filledQty: fill.filledQty.minus('0.0000095') } : fill;
      },
    });
    const h = await harness({ faults: 'perp:BTC:reject', wrap: coinFee });
    const op = await putOpen(h);
    const err = await expectRejects(h.manager.open(op.id), DeltaHedgeError);
    expect((err as DeltaHedgeError).code).toBe('DELTA_HEDGE_FAILED');
    expect((await stateOf(h, op.id)).state).toBe('rolled_back');
    const [rollback] = eventsOf(h, 'rollback');
    expect(rollback?.reversalError).toBeUndefined();
    expect(rollback?.reversal?.filledQty.toString()).toBe('0.01999');
  });

  it('undoes a perp leg that fills after recovery gave it up: the late fill is found by the sweep, bought back and alerted', async () => {
    const h = await harness({ faults: 'perp:BTC:late' });
    const op = await putOpen(h);
    const opening = track(h.manager.open(op.id));
    await giveUp(h);
    const err = await expectRejects(opening.promise, DeltaHedgeTimeout);
    expect(err.message).toMatch(/is unfinished: the outcome of perp sell/);
    // Nothing assumed: the spot leg stays until recovery asks the venue again.
    expect((await stateOf(h, op.id)).state).toBe('placing');
    expect(eventsOf(h, 'rollback')).toEqual([]);
    expect(await h.manager.recover(op.id)).toMatch(/half a hedge was found and rolled back/);
    expect((await stateOf(h, op.id)).state).toBe('rolled_back');
    // Nothing late yet: the perp order is still unanswered at the venue.
    expect(await h.manager.sweepLateFills()).toBe(0);
    expect(eventsOf(h, 'late_fill')).toEqual([]);

    await advance(h, 60_000);
    expect(await h.store.getFill(`${op.id}p`)).not.toBeNull();
    const beforeSweep = await balances(h);
    expect(balanceOf(beforeSweep, 'perp', 'BTC-PERP').eq(BTC_QTY.neg())).toBe(true);
    // The app refreshes prices every PRICE_REFRESH_MS; a paper undo needs a fresh one.
    await h.tickers.refresh(['BTC/USDT:USDT']);

    expect(await h.manager.sweepLateFills()).toBe(1);
    expect(h.executor.started()).toEqual([`${op.id}s`, `${op.id}p`, `${op.id}r1su`, `${op.id}pl`]);
    const after = await balances(h);
    expect(balanceOf(after, 'perp', 'BTC-PERP').isZero()).toBe(true);
    expect(balanceOf(after, 'spot', 'BTC').isZero()).toBe(true);
    const [late, ...more] = eventsOf(h, 'late_fill');
    expect(more).toEqual([]);
    expect(late).toMatchObject({ critical: true, operationId: op.id });
    expect(late?.fill.clientOrderId).toBe(`${op.id}p`);
    expect(late?.reversal?.clientOrderId).toBe(`${op.id}pl`);
    expect(late?.reversal?.filledQty.eq(BTC_QTY)).toBe(true);
    expect(late?.reversalError).toBeUndefined();
    // Undone once: the next sweep has nothing left to look at.
    expect(await h.manager.sweepLateFills()).toBe(0);
    expect(h.executor.started()).toHaveLength(4);
  });

  it('alerts a failed undo of a late fill once and tries it again at each sweep until it is done', async () => {
    let refuseUndo = true;
    const flakyUndo: HarnessOptions['wrap'] = (inner) => ({
      mode: inner.mode,
      lookup: (symbol, id) => inner.lookup(symbol, id),
      balances: () => inner.balances(),
      execute: (request) =>
        refuseUndo && request.clientOrderId.endsWith('pl') ? Promise.reject(new OrderRejectedError('venue in maintenance')) : inner.execute(request),
    });
    const h = await harness({ faults: 'perp:BTC:late', wrap: flakyUndo });
    const op = await putOpen(h);
    const opening = track(h.manager.open(op.id));
    await giveUp(h);
    await expectRejects(opening.promise, DeltaHedgeTimeout);
    await h.manager.recover(op.id);
    await advance(h, 60_000);
    await h.tickers.refresh(['BTC/USDT:USDT']);

    expect(await h.manager.sweepLateFills()).toBe(0);
    expect(await h.manager.sweepLateFills()).toBe(0);
    const failed = eventsOf(h, 'late_fill');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.reversal).toBeNull();
    expect(failed[0]?.reversalError).toMatch(/venue in maintenance; tried again at every delta check/);
    expect(balanceOf(await balances(h), 'perp', 'BTC-PERP').eq(BTC_QTY.neg())).toBe(true);

    refuseUndo = false;
    expect(await h.manager.sweepLateFills()).toBe(1);
    expect(eventsOf(h, 'late_fill')).toHaveLength(2);
    expect(eventsOf(h, 'late_fill')[1]?.reversal?.filledQty.eq(BTC_QTY)).toBe(true);
    expect(balanceOf(await balances(h), 'perp', 'BTC-PERP').isZero()).toBe(true);
    expect(await h.store.getValue('late-fill-watch')).toEqual([]);
  });

  it('stops watching an unknown order that never fills after LATE_FILL_WATCH_MS, and never watches undo orders', async () => {
    const h = await harness({ faults: 'perp:BTC:timeout' });
    const op = await putOpen(h);
    const opening = track(h.manager.open(op.id));
    await giveUp(h);
    await expectRejects(opening.promise, DeltaHedgeTimeout);
    // Recovery decides from "the venue does not know it" and watches that order from then on.
    expect(await h.store.getValue('late-fill-watch')).toBeNull();
    await h.manager.recover(op.id);
    const watched = await h.store.getValue<{ request: OrderRequest }[]>('late-fill-watch');
    expect(watched?.map((w) => w.request.clientOrderId)).toEqual([`${op.id}p`]);
    await advance(h, LATE_FILL_WATCH_MS);
    expect(await h.manager.sweepLateFills()).toBe(0);
    expect(await h.store.getValue('late-fill-watch')).toEqual(watched);
    await advance(h, 1);
    expect(await h.manager.sweepLateFills()).toBe(0);
    expect(await h.store.getValue('late-fill-watch')).toEqual([]);
    expect(eventsOf(h, 'late_fill')).toEqual([]);
    expect(h.executor.started()).toEqual([`${op.id}s`, `${op.id}p`, `${op.id}r1su`]);
  });

  it('reverses the perp leg (client id ending pu) when the spot is rejected', async () => {
    const h = await harness({ faults: 'spot:BTC:reject' });
    const op = await putOpen(h);
    const sellPrice = taker(h, 'BTC/USDT:USDT', 'sell');
    const buyPrice = taker(h, 'BTC/USDT:USDT', 'buy');
    await expectRejects(h.manager.open(op.id), DeltaHedgeError);
    const reversal = await h.store.getFill(`${op.id}pu`);
    expect(reversal).toMatchObject({ kind: 'perp', side: 'buy' });
    expect(eventsOf(h, 'rollback')[0]!.failedLeg).toBe('spot');
    expect((await stateOf(h, op.id)).state).toBe('rolled_back');
    const costs = BTC_QTY.mul(sellPrice).mul(PERP_TAKER).plus(BTC_QTY.mul(buyPrice).mul(PERP_TAKER)).plus(BTC_QTY.mul(buyPrice.minus(sellPrice)));
    const after = await balances(h);
    expect(balanceOf(after, 'perp', 'USDT').eq(START_USDT.minus(costs))).toBe(true);
    expect(balanceOf(after, 'perp', 'BTC-PERP').isZero()).toBe(true);
    expect(balanceOf(after, 'spot', 'USDT').eq(START_USDT)).toBe(true);
  });

  it('fails with DeltaHedgeError and nothing to reverse when both legs are rejected', async () => {
    const h = await harness({ faults: 'spot:BTC:reject,perp:BTC:reject' });
    const op = await putOpen(h);
    await expectRejects(h.manager.open(op.id), DeltaHedgeError);
    expect(h.executor.started()).toEqual([`${op.id}s`, `${op.id}p`]);
    expect((await stateOf(h, op.id)).state).toBe('failed');
    expect(eventsOf(h, 'rollback')).toHaveLength(0);
  });

  it('times out the perp leg after hedgeTimeoutMs of clock time, looks it up, and leaves the open unfinished with the spot leg kept', async () => {
    const h = await harness({ faults: 'perp:BTC:timeout', hedgeTimeoutMs: 10_000 });
    const op = await putOpen(h);
    const startMs = h.clock.nowMs();
    const opening = track(h.manager.open(op.id));
    await flush();
    expect(await h.store.getFill(`${op.id}s`)).not.toBeNull();
    expect(h.executor.inFlight()).toEqual([`${op.id}p`]);
    await advance(h, 9_999);
    expect(opening.settled()).toBe(false);
    await giveUp(h, 1);
    expect(opening.settled()).toBe(true);
    const err = await expectRejects(opening.promise, DeltaHedgeTimeout);
    expect((err as DeltaHedgeTimeout).code).toBe('DELTA_HEDGE_TIMEOUT');
    expect(err.message).toMatch(/no answer within 10000 ms; the venue does not know the order \(yet\)/);
    expect(await h.store.getFill(`${op.id}su`)).toBeNull();
    expect((await stateOf(h, op.id)).state).toBe('placing');
    expect(eventsOf(h, 'unresolved')[0]).toMatchObject({ critical: true, orders: [{ request: { clientOrderId: `${op.id}p` } }], filled: [{ clientOrderId: `${op.id}s` }] });

    // Recovery later: the venue still does not know the perp order, so the spot leg is reversed.
    expect(await h.manager.recover(op.id)).toMatch(/half a hedge was found and rolled back/);
    const reversal = await h.store.getFill(`${op.id}r1su`);
    expect(reversal!.timestampMs - startMs).toBeGreaterThanOrEqual(10_000);
    expect(reversal!.filledQty.eq(BTC_QTY)).toBe(true);
    expect((await stateOf(h, op.id)).state).toBe('rolled_back');
    const after = await balances(h);
    expect(balanceOf(after, 'spot', 'BTC').isZero()).toBe(true);
    expect(balanceOf(after, 'perp', 'BTC-PERP').isZero()).toBe(true);
  });

  it('times out the spot leg, then recovery reverses the perp leg', async () => {
    const h = await harness({ faults: 'spot:BTC:timeout', hedgeTimeoutMs: 5_000 });
    const op = await putOpen(h);
    const opening = track(h.manager.open(op.id));
    await giveUp(h);
    await expectRejects(opening.promise, DeltaHedgeTimeout);
    expect(await h.store.getFill(`${op.id}r1pu`)).toBeNull();
    await h.manager.recover(op.id);
    expect(await h.store.getFill(`${op.id}r1pu`)).toMatchObject({ side: 'buy', kind: 'perp' });
    expect((await stateOf(h, op.id)).state).toBe('rolled_back');
  });

  it('brings the perp down to a partial spot fill (client id ending pf) and opens the matched quantity', async () => {
    const h = await harness({ faults: 'spot:BTC:partial' });
    const op = await putOpen(h);
    const position = await h.manager.open(op.id);
    const matched = BTC_QTY.div(2);
    expect(position.spotLeg.qty.eq(matched) && position.perpLeg.qty.eq(matched)).toBe(true);
    const fix = await h.store.getFill(`${op.id}pf`);
    expect(fix).toMatchObject({ kind: 'perp', side: 'buy' });
    expect(fix!.filledQty.eq(matched)).toBe(true);
    expect(await h.store.getFill(`${op.id}sf`)).toBeNull();
    expect((await stateOf(h, op.id)).state).toBe('open');
    expect(eventsOf(h, 'opened')).toHaveLength(1);
    const after = await balances(h);
    expect(balanceOf(after, 'spot', 'BTC').eq(matched)).toBe(true);
    expect(balanceOf(after, 'perp', 'BTC-PERP').eq(matched.neg())).toBe(true);
  });

  it('brings the spot down to a partial perp fill (client id ending sf)', async () => {
    const h = await harness({ faults: 'perp:BTC:partial' });
    const op = await putOpen(h);
    const position = await h.manager.open(op.id);
    const matched = BTC_QTY.div(2);
    expect(position.spotLeg.qty.eq(matched) && position.perpLeg.qty.eq(matched)).toBe(true);
    expect(await h.store.getFill(`${op.id}sf`)).toMatchObject({ kind: 'spot', side: 'sell' });
    const after = await balances(h);
    expect(balanceOf(after, 'spot', 'BTC').eq(matched)).toBe(true);
    expect(balanceOf(after, 'perp', 'BTC-PERP').eq(matched.neg())).toBe(true);
  });

  it('closes both legs when they drift apart after the fills (DeltaDriftExceeded, drift event)', async () => {
    const h = await harness({ faults: 'spot:BTC:drift', toleranceBps: d(50) });
    const op = await putOpen(h);
    const err = await expectRejects(h.manager.open(op.id), DeltaDriftExceeded);
    expect((err as DeltaDriftExceeded).code).toBe('DELTA_DRIFT_EXCEEDED');
    expect(err.message).toMatch(/300\.0 bps/);

    const spotUndo = await h.store.getFill(`${op.id}su`);
    const perpUndo = await h.store.getFill(`${op.id}pu`);
    expect(spotUndo!.filledQty.eq('0.0194')).toBe(true);
    expect(perpUndo!.filledQty.eq(BTC_QTY)).toBe(true);

    const [drift, ...more] = eventsOf(h, 'drift');
    expect(more).toHaveLength(0);
    expect(drift!.critical).toBe(true);
    expect(drift!.delta.driftBps.eq(300)).toBe(true);
    expect(drift!.delta.withinTolerance).toBe(false);
    expect(drift!.action).toMatch(/both legs closed/);
    expect((await stateOf(h, op.id)).state).toBe('failed');
    expect(await h.store.listOpenPositions()).toEqual([]);
    const after = await balances(h);
    expect(balanceOf(after, 'spot', 'BTC').isZero()).toBe(true);
    expect(balanceOf(after, 'perp', 'BTC-PERP').isZero()).toBe(true);
  });

  it('refuses a repeat of the same operation and places no second order', async () => {
    const h = await harness();
    const op = await putOpen(h);
    await h.manager.open(op.id);
    await expectRejects(h.manager.open(op.id), OperationStateError);
    expect(h.executor.started()).toHaveLength(2);
    const trades = (await h.store.listLedger()).filter((l) => l.kind === 'trade' && l.asset === 'USDT');
    expect(trades).toHaveLength(2);
    expect(await h.store.listOpenPositions()).toHaveLength(1);
  });

  it('refuses a duplicate delivered while the first run is still placing', async () => {
    const h = await harness({ legLatencyMs: 100 });
    const op = await putOpen(h);
    const first = track(h.manager.open(op.id));
    const second = track(h.manager.open(op.id));
    await flush();
    await advance(h, 100);
    await first.promise;
    await expectRejects(second.promise, OperationStateError);
    expect(h.executor.started()).toEqual([`${op.id}s`, `${op.id}p`]);
    expect(await h.store.listOpenPositions()).toHaveLength(1);
  });

  it('refuses to place an operation that is not confirmed', async () => {
    const h = await harness();
    const op = await putOpen(h, 'BTC', BTC_QTY, 'requested');
    await expectRejects(h.manager.open(op.id), OperationStateError);
    expect(h.executor.started()).toHaveLength(0);
    expect((await stateOf(h, op.id)).state).toBe('requested');
  });

  it('works on one coin at a time: a second open of the same coin starts after the first ends', async () => {
    const h = await harness({ legLatencyMs: 100 });
    const a = await putOpen(h, 'BTC');
    const b = await putOpen(h, 'BTC', d('0.01'));
    const first = track(h.manager.open(a.id));
    const second = track(h.manager.open(b.id));
    await flush();
    expect(h.executor.inFlight()).toEqual([`${a.id}s`, `${a.id}p`]);
    await advance(h, 100);
    expect(first.settled()).toBe(true);
    await flush();
    expect(h.executor.inFlight()).toEqual([`${b.id}s`, `${b.id}p`]);
    await advance(h, 100);
    await Promise.all([first.promise, second.promise]);
    const at = (id: string, event: 'start' | 'end') => h.executor.log.find((e) => e.clientOrderId === id && e.event === event)!.atMs;
    expect(at(`${b.id}s`, 'start')).toBeGreaterThanOrEqual(at(`${a.id}p`, 'end'));
    expect(at(`${b.id}p`, 'start')).toBeGreaterThanOrEqual(at(`${a.id}s`, 'end'));
  });

  it('lets different coins overlap', async () => {
    const h = await harness({ legLatencyMs: 100 });
    const a = await putOpen(h, 'BTC');
    const b = await putOpen(h, 'ETH', d('0.5'));
    const both = Promise.all([h.manager.open(a.id), h.manager.open(b.id)]);
    await flush();
    expect(new Set(h.executor.inFlight())).toEqual(new Set([`${a.id}s`, `${a.id}p`, `${b.id}s`, `${b.id}p`]));
    await advance(h, 100);
    const [btc, eth] = await both;
    expect(btc.coin).toBe('BTC');
    expect(eth.coin).toBe('ETH');
  });

  it('never interleaves a close and an open of the same coin', async () => {
    const h = await harness({ legLatencyMs: 100 });
    const opening = track(openBtc(h));
    await advance(h, 100);
    const position = await opening.promise;
    const closeOp = await putClose(h, position);
    const openOp = await putOpen(h, 'BTC', d('0.01'));
    const closing = track(h.manager.close(closeOp.id));
    const reopening = track(h.manager.open(openOp.id));
    await flush();
    expect(h.executor.inFlight()).toEqual([`${closeOp.id}s`, `${closeOp.id}p`]);
    await advance(h, 100);
    await closing.promise;
    await flush();
    expect(h.executor.inFlight()).toEqual([`${openOp.id}s`, `${openOp.id}p`]);
    await advance(h, 100);
    await reopening.promise;
  });
});

describe.each(modes)('PositionManager.close (%s)', (mode) => {
  it('sends both closing legs at the same moment', async () => {
    const h = await buildHarness({ mode, legLatencyMs: 100 });
    const opening = track(openBtc(h));
    await advance(h, 100);
    const position = await opening.promise;
    const op = await putClose(h, position);
    const closing = track(h.manager.close(op.id));
    await flush();
    expect(h.executor.inFlight()).toEqual([`${op.id}s`, `${op.id}p`]);
    expect(h.executor.ended().filter((id) => id.startsWith(op.id))).toEqual([]);
    await advance(h, 100);
    expect((await closing.promise).status).toBe('closed');
  });

  it('closes both legs and books realised PnL = price PnL − every fee, exactly', async () => {
    const h = await buildHarness({ mode });
    const entrySpot = taker(h, 'BTC/USDT', 'buy');
    const entryPerp = taker(h, 'BTC/USDT:USDT', 'sell');
    const position = await openBtc(h);
    const before = await balances(h);

    await advance(h, 3_600_000);
    await h.tickers.refresh(['BTC/USDT', 'BTC/USDT:USDT']);
    const exitSpot = taker(h, 'BTC/USDT', 'sell');
    const exitPerp = taker(h, 'BTC/USDT:USDT', 'buy');
    expect(exitSpot.eq(entrySpot.mul('0.9995').div('1.0005'))).toBe(false);

    const op = await putClose(h, position);
    const closed = await h.manager.close(op.id);

    const q = BTC_QTY;
    const fees = q
      .mul(entrySpot)
      .mul(SPOT_TAKER)
      .plus(q.mul(entryPerp).mul(PERP_TAKER))
      .plus(q.mul(exitSpot).mul(SPOT_TAKER))
      .plus(q.mul(exitPerp).mul(PERP_TAKER));
    const pricePnl = exitSpot.minus(entrySpot).mul(q).plus(entryPerp.minus(exitPerp).mul(q));
    expect(closed.realisedPnlUsd!.eq(pricePnl.minus(fees))).toBe(true);
    expect(closed.exitSpotPrice!.eq(exitSpot)).toBe(true);
    expect(closed.exitPerpPrice!.eq(exitPerp)).toBe(true);
    expect(closed.exitFeesUsd!.eq(q.mul(exitSpot).mul(SPOT_TAKER).plus(q.mul(exitPerp).mul(PERP_TAKER)))).toBe(true);
    expect(closed.status).toBe('closed');
    expect(closed.closeOperationId).toBe(op.id);
    expect(closed.closedAtMs).toBe(h.clock.nowMs());
    expect(await h.store.getPosition(position.id)).toEqual(closed);
    expect(await h.store.listOpenPositions()).toEqual([]);

    const stored = await stateOf(h, op.id);
    expect(stored.state).toBe('closed');
    expect(eventsOf(h, 'closed')).toHaveLength(1);
    expect(eventsOf(h, 'closed')[0]!.position).toEqual(closed);

    // The ledger agrees: all USDT gained across both accounts since the start is the PnL.
    const after = await balances(h);
    const usdtGain = balanceOf(after, 'spot', 'USDT').plus(balanceOf(after, 'perp', 'USDT')).minus(START_USDT.mul(2));
    expect(usdtGain.eq(closed.realisedPnlUsd!)).toBe(true);
    expect(balanceOf(after, 'spot', 'BTC').isZero()).toBe(true);
    expect(balanceOf(after, 'perp', 'BTC-PERP').isZero()).toBe(true);
    expect(balanceOf(before, 'spot', 'BTC').eq(q)).toBe(true);
  });

  it.each(['spot:BTC:partial', 'perp:BTC:partial'])(
    'books realised PnL that matches the ledger after an open matched a partial fill (%s)',
    async (fault) => {
      const faultPlan = new LiftableFaults(FaultPlan.parse(fault));
      const h = await buildHarness({ mode, faultPlan });
      const position = await openBtc(h);
      expect(position.spotLeg.qty.eq(BTC_QTY.div(2))).toBe(true);
      faultPlan.lifted = true;
      await advance(h, 60_000);
      await h.tickers.refresh(['BTC/USDT', 'BTC/USDT:USDT']);
      const closed = await h.manager.close((await putClose(h, position)).id);
      const after = await balances(h);
      expect(balanceOf(after, 'spot', 'BTC').isZero() && balanceOf(after, 'perp', 'BTC-PERP').isZero()).toBe(true);
      // Every fee and every fill price of the operation, the fix order's included, is in the PnL.
      const usdtGain = balanceOf(after, 'spot', 'USDT').plus(balanceOf(after, 'perp', 'USDT')).minus(START_USDT.mul(2));
      expect(closed.realisedPnlUsd!.toString()).toBe(usdtGain.toString());
    },
  );

  it('closes whole lot steps of a spot leg a coin fee left off-step, and books the rest as dust outside the PnL', async () => {
    const h = await buildHarness({ mode });
    const opened = await openBtc(h);
    const entrySpot = opened.spotLeg.entryPrice;
    const entryPerp = opened.perpLeg.entryPrice;
    // As after a venue took 0.0000095 BTC of fee in the coin: 0.0199905 held, the step is 0.00001.
    const position: Position = { ...opened, spotLeg: { ...opened.spotLeg, qty: d('0.0199905') } };
    await h.store.putPosition(position);
    await advance(h, 60_000);
    await h.tickers.refresh(['BTC/USDT', 'BTC/USDT:USDT']);
    const exitSpot = taker(h, 'BTC/USDT', 'sell');
    const exitPerp = taker(h, 'BTC/USDT:USDT', 'buy');

    const op = await putClose(h, position);
    const closed = await h.manager.close(op.id);

    expect(closed.status).toBe('closed');
    expect(closed.spotDustQty?.toString()).toBe('0.0000005');
    expect(h.executor.started().filter((id) => id.startsWith(op.id))).toEqual([clientOrderId(op.id, 'spot'), clientOrderId(op.id, 'perp')]);
    const sold = d('0.01999');
    const exitFees = sold.mul(exitSpot).mul(SPOT_TAKER).plus(BTC_QTY.mul(exitPerp).mul(PERP_TAKER));
    expect(closed.exitFeesUsd!.eq(exitFees)).toBe(true);
    const pricePnl = exitSpot.minus(entrySpot).mul(sold).plus(entryPerp.minus(exitPerp).mul(BTC_QTY));
    expect(closed.realisedPnlUsd!.eq(pricePnl.minus(exitFees).minus(opened.spotLeg.entryFeeUsd).minus(opened.perpLeg.entryFeeUsd))).toBe(true);
    expect((await stateOf(h, op.id)).steps.at(-1)?.note).toMatch(/0\.0000005 left as dust under one lot step/);
    // The account sold what the close sold: the 0.02 bought less 0.01999 is left in spot.
    expect(balanceOf(await balances(h), 'spot', 'BTC').toString()).toBe('0.00001');
    expect(eventsOf(h, 'error')).toEqual([]);
  });

  it('refuses to close a position that is already closed', async () => {
    const h = await buildHarness({ mode });
    const position = await openBtc(h);
    await h.manager.close((await putClose(h, position)).id);
    const again = await putClose(h, position);
    await expectRejects(h.manager.close(again.id), OperationStateError);
    expect(h.executor.started().filter((id) => id.startsWith(again.id))).toEqual([]);
  });
});

describe.each(modes)('PositionManager.recover (%s)', (mode) => {
  const request = (op: Operation, kind: 'spot' | 'perp', qty = BTC_QTY): OrderRequest => ({
    clientOrderId: clientOrderId(op.id, kind),
    coin: 'BTC',
    kind,
    symbol: kind === 'spot' ? 'BTC/USDT' : 'BTC/USDT:USDT',
    side: kind === 'spot' ? 'buy' : 'sell',
    qty,
    reduceOnly: false,
  });

  it('rolls back a placing open that only got its spot fill', async () => {
    const h = await buildHarness({ mode });
    const op = await putOpen(h, 'BTC', BTC_QTY, 'placing');
    await h.executor.execute(request(op, 'spot'));
    const outcome = await h.manager.recover(op.id);
    expect(outcome).toMatch(/rolled back/);
    const reversal = await h.store.getFill(`${op.id}r1su`);
    expect(reversal).toMatchObject({ side: 'sell', kind: 'spot' });
    expect(reversal!.filledQty.eq(BTC_QTY)).toBe(true);
    expect(await h.store.getFill(`${op.id}p`)).toBeNull();
    expect((await stateOf(h, op.id)).state).toBe('rolled_back');
    expect(await h.store.listOpenPositions()).toEqual([]);
    expect(balanceOf(await balances(h), 'spot', 'BTC').isZero()).toBe(true);
  });

  it('turns a placing open with both fills into a position', async () => {
    const h = await buildHarness({ mode });
    const op = await putOpen(h, 'BTC', BTC_QTY, 'placing');
    const spot = await h.executor.execute(request(op, 'spot'));
    const perp = await h.executor.execute(request(op, 'perp'));
    const outcome = await h.manager.recover(op.id);
    const [position, ...more] = await h.store.listOpenPositions();
    expect(more).toHaveLength(0);
    expect(outcome).toContain(position!.id);
    expect(position!.openOperationId).toBe(op.id);
    expect(position!.spotLeg.qty.eq(BTC_QTY) && position!.perpLeg.qty.eq(BTC_QTY)).toBe(true);
    expect(position!.spotLeg.entryPrice.eq(spot.avgPrice)).toBe(true);
    expect(position!.perpLeg.entryPrice.eq(perp.avgPrice)).toBe(true);
    const stored = await stateOf(h, op.id);
    expect(stored.state).toBe('open');
    expect(stored.positionId).toBe(position!.id);
    expect(h.executor.started()).toEqual([`${op.id}s`, `${op.id}p`]);
  });

  it('recovers a placing open whose partial fill was already matched, booking the fix in its PnL', async () => {
    const h = await buildHarness({ mode });
    const op = await putOpen(h, 'BTC', BTC_QTY, 'placing');
    const half = BTC_QTY.div(2);
    await h.executor.execute(request(op, 'spot', half));
    await h.executor.execute(request(op, 'perp'));
    await h.executor.execute({ ...request(op, 'perp', half), clientOrderId: clientOrderId(op.id, 'perpfix'), side: 'buy', reduceOnly: true });
    await h.manager.recover(op.id);
    const [position] = await h.store.listOpenPositions();
    expect(position!.spotLeg.qty.eq(half) && position!.perpLeg.qty.eq(half)).toBe(true);
    expect((await stateOf(h, op.id)).state).toBe('open');
    const closed = await h.manager.close((await putClose(h, position!)).id);
    const after = await balances(h);
    const usdtGain = balanceOf(after, 'spot', 'USDT').plus(balanceOf(after, 'perp', 'USDT')).minus(START_USDT.mul(2));
    expect(closed.realisedPnlUsd!.toString()).toBe(usdtGain.toString());
  });

  it('expires a requested operation and fails a confirmed one, placing nothing', async () => {
    const h = await buildHarness({ mode });
    const requested = await putOpen(h, 'BTC', BTC_QTY, 'requested');
    const confirmed = await putOpen(h, 'ETH', d('0.5'), 'confirmed');
    expect(await h.manager.recover(requested.id)).toMatch(/expired/);
    expect(await h.manager.recover(confirmed.id)).toMatch(/nothing was placed/);
    expect((await stateOf(h, requested.id)).state).toBe('expired');
    const failed = await stateOf(h, confirmed.id);
    expect(failed.state).toBe('failed');
    expect(failed.errorCode).toBe('INTERRUPTED');
    expect(h.executor.started()).toEqual([]);
    expect(await h.store.listUnfinishedOperations()).toEqual([]);
    // A recovered operation is finished: it is never placed afterwards.
    await expectRejects(h.manager.open(confirmed.id), OperationStateError);
  });

  it('fails a placing open whose orders never reached the venue', async () => {
    const h = await buildHarness({ mode });
    const op = await putOpen(h, 'BTC', BTC_QTY, 'placing');
    expect(await h.manager.recover(op.id)).toMatch(/no leg had filled/);
    expect((await stateOf(h, op.id)).state).toBe('failed');
    expect(h.executor.started()).toEqual([]);
  });

  it('leaves a finished operation alone', async () => {
    const h = await buildHarness({ mode });
    const position = await openBtc(h);
    expect(await h.manager.recover(position.openOperationId)).toBe('already open');
    expect(h.executor.started()).toHaveLength(2);
  });
});

describe('PositionManager.recover (live venue knows more than the store)', () => {
  it('finds a spot fill the crash kept out of the store and reverses it', async () => {
    const h = await buildHarness({ mode: 'live' });
    const op = await putOpen(h, 'BTC', BTC_QTY, 'placing');
    await h.exchange.placeOrder({
      clientOrderId: `${op.id}s`,
      coin: 'BTC',
      kind: 'spot',
      symbol: 'BTC/USDT',
      side: 'buy',
      qty: BTC_QTY,
      reduceOnly: false,
    });
    expect(await h.store.getFill(`${op.id}s`)).toBeNull();
    await h.manager.recover(op.id);
    expect(await h.store.getFill(`${op.id}s`)).not.toBeNull();
    expect(await h.store.getFill(`${op.id}r1su`)).toMatchObject({ side: 'sell' });
    expect((await stateOf(h, op.id)).state).toBe('rolled_back');
    const venue = await h.exchange.fetchBalances();
    expect((venue.spot.get('BTC') ?? ZERO).isZero()).toBe(true);
  });
});
