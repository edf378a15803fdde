import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import { Decimal, ZERO, floorToStep } from '../domain/decimal.js';
import {
  BotError,
  DeltaDriftExceeded,
  DeltaHedgeError,
  DeltaHedgeTimeout,
  NotFoundError,
  OperationStateError,
  OrderOutcomeUnknownError,
  OrderRejectedError,
  OrderTimeoutError,
  asBotError,
} from '../domain/errors.js';
import { clientOrderId, newPositionId, type OrderPurpose } from '../domain/ids.js';
import {
  FINISHED_STATES,
  type ExitTotals,
  type Instrument,
  type Leg,
  type Operation,
  type OperationState,
  type OrderRequest,
  type OrderResult,
  type Position,
  type Side,
  type TradingMode,
} from '../domain/types.js';
import type { EventBus } from '../events.js';
import type { Executor } from '../execution/port.js';
import type { HedgePair, InstrumentInfo } from '../market/instrumentInfo.js';
import { OperationBook } from '../store/operationBook.js';
import type { Store } from '../store/port.js';
import type { DeltaValidator } from './deltaValidator.js';
import { MODE_LOCK, assertLocksHeld, coinLock, type Locks } from './locks.js';

/**
 * What became of one order, from the venue's own answers: `filled` (a final fill, possibly partial),
 * `refused` (the venue said no before accepting), or `unknown` (the answer was lost and looking it
 * up told nothing final: the venue could not be asked, the order is still working, or the venue
 * does not know it yet). Nothing is decided on an unknown order: the operation is left unfinished
 * and finished by recovery from the venue's later answers.
 */
interface LegOutcome {
  request: OrderRequest;
  outcome: 'filled' | 'refused' | 'unknown';
  fill: OrderResult | null;
  error: BotError | null;
  /** Unknown because the venue did not answer within the hedge timeout. */
  timedOut?: boolean;
}

export interface PositionManagerDeps {
  store: Store;
  executors: (mode: TradingMode) => Executor;
  instruments: InstrumentInfo;
  validator: DeltaValidator;
  locks: Locks;
  events: EventBus;
  clock: Clock;
  hedgeTimeoutMs: number;
  logger: Logger;
}

const filledQty = (leg: LegOutcome): Decimal => leg.fill?.filledQty ?? ZERO;
/** How many times an order of unknown outcome is looked up before the operation is left unfinished. */
const LOOKUP_ATTEMPTS = 3;
/** Recovery rounds (each at a delta check) before an operation whose orders the venue never confirms is given up to people. */
const MAX_RECOVERY_ROUNDS = 5;

/** The client id base of a recovery round's orders: `<op>r<round>`, so no two rounds share an id. */
function recoveryBase(op: Operation, round: number): string {
  return `${op.id}r${round}`;
}

/** How long an order whose fate stayed unknown is looked up again for a late fill. */
export const LATE_FILL_WATCH_MS = 30 * 60_000;
const WATCH_KEY = 'late-fill-watch';
const WATCH_LOCK = 'late-fill-watch';

/** An order whose fate was unknown when its operation moved on. */
interface WatchedOrder {
  operationId: string;
  mode: TradingMode;
  request: OrderRequest;
  sinceMs: number;
  /** Its late fill was found and the undo failed; that was alerted once. */
  undoFailedAlerted?: boolean;
}

/**
 * Opens and closes hedges: both legs at the same moment, each with a timeout; a half-filled
 * hedge is rolled back; drift beyond tolerance after the fills closes both legs. Work on one coin
 * runs under that coin's lock, and every order's client id derives from its operation, so a
 * repeated operation never places a second order.
 */
export class PositionManager {
  private readonly book: OperationBook;

  constructor(private readonly deps: PositionManagerDeps) {
    this.book = new OperationBook(deps.store, deps.clock);
  }

  /** Places a confirmed open operation. Resolves to the new position or throws why there is none. */
  async open(operationId: string): Promise<Position> {
    const first = await this.loadOperation(operationId);
    return this.deps.locks.withLock(coinLock(first.coin), async () => this.openConfirmed(await this.loadOperation(operationId)));
  }

  /**
   * `open` for a caller that already holds the coin's lock and read `op` under it (the engine's
   * confirm, which checks and places under one lock). Steps added to `op` and not yet stored,
   * such as the confirmation, are stored with 'placing', before any order goes out. `op` is
   * advanced in place, so afterwards it is the stored operation.
   */
  async openConfirmed(op: Operation): Promise<Position> {
    this.expectState(op, 'confirmed');
    if (!op.quote) throw new OperationStateError(`operation ${op.id} has no quote`);
    const pair = this.deps.instruments.pair(op.coin);
    const executor = this.deps.executors(op.mode);
    const qty = op.quote.qty;
    await this.transition(op, 'placing', `spot buy and perp sell of ${qty.toString()} ${op.coin}`);
    const [spot, perp] = await Promise.all([
      this.send(op, executor, 'spot', pair.spot, 'buy', qty),
      this.send(op, executor, 'perp', pair.perp, 'sell', qty),
    ]);
    this.requireKnown(op, spot, perp);
    return this.settleOpen(op, pair, executor, spot, perp);
  }

  /**
   * Places a confirmed close operation: both legs at once, a failed leg retried once. With
   * `held`, the legs are first set to what the account really holds (an emergency close after
   * drift closes what is there, not what was booked).
   */
  async close(operationId: string, held?: { spotQty: Decimal; perpQty: Decimal }): Promise<Position> {
    const first = await this.loadOperation(operationId);
    return this.deps.locks.withLock(coinLock(first.coin), async () => this.closeConfirmed(await this.loadOperation(operationId), held));
  }

  /** `close` for a caller holding the coin's lock, as `openConfirmed` is for `open`. */
  async closeConfirmed(op: Operation, held?: { spotQty: Decimal; perpQty: Decimal }): Promise<Position> {
    this.expectState(op, 'confirmed');
    let position = await this.loadOpenPosition(op);
    if (held) {
      position = {
        ...position,
        spotLeg: { ...position.spotLeg, qty: held.spotQty },
        perpLeg: { ...position.perpLeg, qty: held.perpQty },
      };
    }
    const executor = this.deps.executors(position.mode);
    const note = `spot sell ${position.spotLeg.qty.toString()} and perp buy ${position.perpLeg.qty.toString()} ${op.coin}`;
    await this.transition(op, 'placing', note, undefined, held ? position : undefined);
    return this.runClose(op, position, executor, [], []);
  }

  /**
   * Resolves an operation a crash left unfinished, from what the venue knows of its orders:
   * a complete open becomes a position, half a hedge is rolled back, a close is finished.
   */
  async recover(operationId: string): Promise<string> {
    const first = await this.loadOperation(operationId);
    // A mode change's confirm holds the mode lock, not a coin's: a restart waits for it there.
    return this.deps.locks.withLock(first.kind === 'mode' ? MODE_LOCK : coinLock(first.coin), () => this.recoverHolding(operationId));
  }

  /** `recover` for a caller that already holds the operation's coin lock. */
  async recoverHolding(operationId: string): Promise<string> {
    const op = await this.loadOperation(operationId);
    if (op.state === 'requested') {
      await this.transition(op, 'expired', 'the bot restarted before it was confirmed');
      return 'preview expired (bot restarted before confirmation); nothing was placed';
    }
    if (op.state === 'confirmed') {
      await this.transition(op, 'failed', 'the bot restarted before any order was sent', 'INTERRUPTED');
      return 'interrupted before any order was sent; nothing was placed, send it again';
    }
    if (op.state !== 'placing') return `already ${op.state}`;
    const round = (op.recoveryRound ?? 0) + 1;
    if (round > MAX_RECOVERY_ROUNDS) {
      const message = `${op.coin} ${op.kind} (op ${op.id}): ${MAX_RECOVERY_ROUNDS} recovery rounds and the venue never confirmed what its orders did; check both legs at the venue and act by hand`;
      await this.transition(op, 'failed', message, 'RECOVERY_GAVE_UP');
      this.deps.events.emit({ type: 'error', critical: true, operation: op, code: 'RECOVERY_GAVE_UP', message });
      return `recovery gave up: ${message}`;
    }
    // The round is stored before its first order, so a later round never sends the same client id.
    let begun = false;
    const begin = async (): Promise<void> => {
      if (begun) return;
      begun = true;
      op.recoveryRound = round;
      await this.transition(op, 'placing', `recovery round ${round}`);
    };
    return op.kind === 'close' ? this.recoverClose(op, round, begin) : this.recoverOpen(op, round, begin);
  }

  private async recoverOpen(op: Operation, round: number, begin: () => Promise<void>): Promise<string> {
    const pair = this.deps.instruments.pair(op.coin);
    const executor = this.deps.executors(op.mode);
    const qty = op.quote?.qty ?? ZERO;
    const earlierRounds = Array.from({ length: round - 1 }, (_, i) => recoveryBase(op, i + 1));
    const legs = [
      { leg: 'spot' as const, instrument: pair.spot, opens: 'buy' as const, undoes: 'sell' as const },
      { leg: 'perp' as const, instrument: pair.perp, opens: 'sell' as const, undoes: 'buy' as const },
    ];
    const nets = [];
    for (const { leg, instrument, opens, undoes } of legs) {
      const added = [this.order(op, leg, instrument, opens, qty)];
      const removed = [
        this.order(op, `${leg}fix`, instrument, undoes, qty),
        this.order(op, `${leg}undo`, instrument, undoes, qty),
        ...earlierRounds.map((id) => this.order({ id, coin: op.coin }, `${leg}undo`, instrument, undoes, qty)),
      ];
      const addedFills = await this.lookupRequests(executor, op, added);
      const removedFills = await this.lookupRequests(executor, op, removed);
      await this.watchMissing(op, [...added, ...removed.slice(2)], [...addedFills, ...removedFills]);
      nets.push({ leg, instrument, undoes, net: sumQty(addedFills).minus(sumQty(removedFills)), first: addedFills[0] ?? null, removed: removedFills });
    }
    const [spotNet, perpNet] = nets as [(typeof nets)[number], (typeof nets)[number]];
    const delta = this.deps.validator.check(op.coin, spotNet.net, perpNet.net);
    if (spotNet.net.gt(0) && perpNet.net.gt(0) && delta.withinTolerance && spotNet.first && perpNet.first) {
      const spotEntry = netted(spotNet.first, spotNet.removed, spotNet.net);
      const perpEntry = netted(perpNet.first, perpNet.removed, perpNet.net);
      const position = await this.createPosition(op, pair, spotEntry, spotNet.net, perpEntry, perpNet.net);
      return `both legs had filled; position ${position.id} is open`;
    }
    const reversals: string[] = [];
    for (const { leg, instrument, undoes, net } of nets) {
      const undoQty = closable(net, instrument);
      if (undoQty.lte(0)) continue;
      await begin();
      const undo = await this.send({ ...op, id: recoveryBase(op, round) }, executor, `${leg}undo`, instrument, undoes, undoQty);
      this.requireKnown(op, undo);
      if (!undo.fill || !filledQty(undo).eq(undoQty)) {
        await this.transition(op, 'failed', `could not reverse the ${leg} leg`, 'RECOVERY_FAILED');
        throw new DeltaHedgeError(`recovery of ${op.id}: the ${leg} leg (${net.toString()} ${op.coin}) could not be reversed; close it by hand`);
      }
      reversals.push(`${leg} ${undoQty.toString()} ${op.coin}${dustNote(net.minus(undoQty))}`);
    }
    if (reversals.length > 0) {
      await this.transition(op, 'rolled_back', `reversed ${reversals.join(' and ')}`, 'INTERRUPTED');
      return `half a hedge was found and rolled back (${reversals.join(', ')})`;
    }
    if (spotNet.first || perpNet.first) {
      await this.transition(op, 'rolled_back', 'what had filled was already reversed', 'INTERRUPTED');
      return 'what had filled was already reversed; nothing is held';
    }
    await this.transition(op, 'failed', 'no leg had filled', 'INTERRUPTED');
    return 'no leg had filled; nothing to undo';
  }

  private async recoverClose(op: Operation, round: number, begin: () => Promise<void>): Promise<string> {
    const position = await this.loadOpenPosition(op);
    const executor = this.deps.executors(position.mode);
    const pair = this.deps.instruments.pair(op.coin);
    const earlierRounds = Array.from({ length: round - 1 }, (_, i) => recoveryBase(op, i + 1));
    const sent = (leg: 'spot' | 'perp', instrument: Instrument, side: Side, qty: Decimal): OrderRequest[] => [
      this.order(op, leg, instrument, side, qty),
      this.order(op, `${leg}fix`, instrument, side, qty),
      ...earlierRounds.map((id) => this.order({ id, coin: op.coin }, leg, instrument, side, qty)),
    ];
    const spotSent = sent('spot', pair.spot, 'sell', position.spotLeg.qty);
    const perpSent = sent('perp', pair.perp, 'buy', position.perpLeg.qty);
    const spotFills = await this.lookupRequests(executor, op, spotSent);
    const perpFills = await this.lookupRequests(executor, op, perpSent);
    await this.watchMissing(op, [...spotSent, ...perpSent], [...spotFills, ...perpFills]);
    const closed = await this.runClose(op, position, executor, spotFills, perpFills, { base: recoveryBase(op, round), begin });
    return `close finished; position ${closed.id} is closed`;
  }

  private async settleOpen(
    op: Operation,
    pair: HedgePair,
    executor: Executor,
    spot: LegOutcome,
    perp: LegOutcome,
  ): Promise<Position> {
    const spotFill = spot.fill;
    const perpFill = perp.fill;
    if (spotFill && perpFill && spotFill.filledQty.gt(0) && perpFill.filledQty.gt(0)) {
      let spotQty = spotFill.filledQty;
      let perpQty = perpFill.filledQty;
      let spotEntry = spotFill;
      let perpEntry = perpFill;
      if (spotFill.status === 'partial' || perpFill.status === 'partial') {
        const matched = await this.matchPartial(op, pair, executor, spot, perp);
        const fixes = matched.fix ? [matched.fix] : [];
        if (!matched.qty) {
          // Unwind what each leg holds now, net of whatever the failed fix did fill.
          const fixedQty = (kind: 'spot' | 'perp'): Decimal => sumQty(fixes.filter((f) => f.kind === kind));
          return this.rollBackBoth(op, pair, executor, spotQty.minus(fixedQty('spot')), perpQty.minus(fixedQty('perp')), 'a partial fill could not be matched');
        }
        spotQty = matched.qty;
        perpQty = matched.qty;
        spotEntry = netted(spotFill, fixes.filter((f) => f.kind === 'spot'), spotQty);
        perpEntry = netted(perpFill, fixes.filter((f) => f.kind === 'perp'), perpQty);
      }
      const delta = this.deps.validator.check(op.coin, spotQty, perpQty);
      if (!delta.withinTolerance) {
        const action = await this.unwind(op, pair, executor, spotQty, perpQty);
        await this.transition(op, 'failed', `drift ${delta.driftBps.toFixed(1)} bps; ${action}`, 'DELTA_DRIFT_EXCEEDED');
        this.deps.events.emit({ type: 'drift', critical: true, operation: op, delta, action });
        throw new DeltaDriftExceeded(
          `${op.coin} legs drifted ${delta.driftBps.toFixed(1)} bps apart after the fills (spot ${spotQty.toString()}, perp ${perpQty.toString()}, tolerance ${delta.toleranceBps.toString()} bps); ${action}`,
        );
      }
      const position = await this.createPosition(op, pair, spotEntry, spotQty, perpEntry, perpQty);
      this.deps.events.emit({ type: 'opened', critical: false, operation: op, position, spot: spotFill, perp: perpFill });
      return position;
    }
    const filled = filledQty(spot).gt(0) ? spot : filledQty(perp).gt(0) ? perp : null;
    if (!filled?.fill) {
      const reason = `spot: ${this.describeFailure(spot)}; perp: ${this.describeFailure(perp)}`;
      const error = new DeltaHedgeError(`${op.coin} hedge not opened: ${reason}`);
      await this.transition(op, 'failed', `no leg filled (${reason})`, error.code);
      throw error;
    }
    const failed = filled === spot ? perp : spot;
    const failedLeg = failed.request.kind;
    const failure = this.describeFailure(failed);
    const error = new DeltaHedgeError(`${op.coin} ${failedLeg} leg failed: ${failure}`);
    const reversal = await this.reverse(op, filled, executor);
    this.requireKnown(op, reversal, filled);
    if (!reversal.fill || !filledQty(reversal).eq(reversal.request.qty)) {
      const reversalError = this.describeFailure(reversal);
      await this.transition(op, 'failed', `${failedLeg} leg failed and the reversal failed: ${reversalError}`, 'ROLLBACK_FAILED');
      this.deps.events.emit({ type: 'rollback', critical: true, operation: op, filled: filled.fill, failedLeg, failure, reversal: reversal.fill, reversalError });
      throw new DeltaHedgeError(
        `${op.coin} ${failedLeg} leg failed (${failure}) and reversing the ${filled.request.kind} leg failed too (${reversalError}): ${filled.fill.filledQty.toString()} ${op.coin} is unhedged, act by hand`,
      );
    }
    await this.transition(op, 'rolled_back', `${failedLeg} leg: ${failure}; ${filled.request.kind} leg reversed`, error.code);
    this.deps.events.emit({ type: 'rollback', critical: true, operation: op, filled: filled.fill, failedLeg, failure, reversal: reversal.fill });
    throw error;
  }

  /** Brings the larger leg down to the smaller one's fill; returns the matched qty and the fix, or null. */
  private async matchPartial(
    op: Operation,
    pair: HedgePair,
    executor: Executor,
    spot: LegOutcome,
    perp: LegOutcome,
  ): Promise<{ qty: Decimal | null; fix: OrderResult | null }> {
    const unmatched = { qty: null, fix: null };
    const target = Decimal.min(filledQty(spot), filledQty(perp));
    const price = spot.fill?.avgPrice ?? ZERO;
    for (const instrument of [pair.spot, pair.perp]) {
      if (target.lt(instrument.minQty) || target.mul(price).lt(instrument.minNotionalUsd)) return unmatched;
      if (!target.div(instrument.qtyStep).isInteger()) return unmatched;
    }
    const larger = filledQty(spot).gt(target) ? spot : filledQty(perp).gt(target) ? perp : null;
    if (!larger) return { qty: target, fix: null };
    const excess = filledQty(larger).minus(target);
    const { instrument, side } = this.takeBack(larger.request);
    if (excess.lt(instrument.minQty) || excess.mul(price).lt(instrument.minNotionalUsd)) return unmatched;
    const fix = await this.send(op, executor, larger.request.kind === 'spot' ? 'spotfix' : 'perpfix', instrument, side, excess);
    this.requireKnown(op, fix, spot, perp);
    return { qty: fix.fill && filledQty(fix).eq(excess) ? target : null, fix: fix.fill };
  }

  private async rollBackBoth(
    op: Operation,
    pair: HedgePair,
    executor: Executor,
    spotQty: Decimal,
    perpQty: Decimal,
    why: string,
  ): Promise<never> {
    const action = await this.unwind(op, pair, executor, spotQty, perpQty);
    await this.transition(op, 'rolled_back', `${why}; ${action}`, 'DELTA_HEDGE_FAILED');
    const message = `${op.coin} hedge not opened: ${why}; ${action}`;
    this.deps.events.emit({ type: 'error', critical: true, operation: op, code: 'DELTA_HEDGE_FAILED', message });
    throw new DeltaHedgeError(message);
  }

  /** Emergency close of whatever both legs hold after an open went wrong. */
  private async unwind(op: Operation, pair: HedgePair, executor: Executor, spotQty: Decimal, perpQty: Decimal): Promise<string> {
    const spotSell = closable(spotQty, pair.spot);
    const perpBuy = closable(perpQty, pair.perp);
    const undos = await Promise.all([
      spotSell.gt(0) ? this.send(op, executor, 'spotundo', pair.spot, 'sell', spotSell) : null,
      perpBuy.gt(0) ? this.send(op, executor, 'perpundo', pair.perp, 'buy', perpBuy) : null,
    ]);
    this.requireKnown(op, ...undos.filter((u): u is LegOutcome => u !== null));
    const failures = undos.filter((u): u is LegOutcome => u !== null && (!u.fill || !filledQty(u).eq(u.request.qty)));
    if (failures.length === 0) return `both legs closed (spot sold ${spotSell.toString()}${dustNote(spotQty.minus(spotSell))}, perp bought ${perpBuy.toString()})`;
    return `closing failed on ${failures.map((f) => `${f.request.kind} (${this.describeFailure(f)})`).join(' and ')}: act by hand`;
  }

  private reverse(op: Operation, leg: LegOutcome, executor: Executor): Promise<LegOutcome> {
    const { instrument, side } = this.takeBack(leg.request);
    return this.send(op, executor, leg.request.kind === 'spot' ? 'spotundo' : 'perpundo', instrument, side, closable(filledQty(leg), instrument));
  }

  /** The market an order went to and the side that takes it back. */
  private takeBack(request: OrderRequest): { instrument: Instrument; side: Side } {
    const pair = this.deps.instruments.pair(request.coin);
    return { instrument: request.kind === 'spot' ? pair.spot : pair.perp, side: request.side === 'buy' ? 'sell' : 'buy' };
  }

  /**
   * Closes both legs, each with a second attempt. A recovery round instead sends one order per leg
   * under client ids of its own round (`recovery.base`), storing the round before the first.
   */
  private async runClose(
    op: Operation,
    position: Position,
    executor: Executor,
    spotFills: OrderResult[],
    perpFills: OrderResult[],
    recovery?: { base: string; begin: () => Promise<void> },
  ): Promise<Position> {
    const pair = this.deps.instruments.pair(op.coin);
    const sender = recovery ? { ...op, id: recovery.base } : op;
    const legs = [
      { leg: position.spotLeg, instrument: pair.spot, side: 'sell' as const, fills: spotFills, purposes: recovery ? (['spot'] as const) : (['spot', 'spotfix'] as const) },
      { leg: position.perpLeg, instrument: pair.perp, side: 'buy' as const, fills: perpFills, purposes: recovery ? (['perp'] as const) : (['perp', 'perpfix'] as const) },
    ];
    const failures: string[] = [];
    const unresolved: LegOutcome[] = [];
    await Promise.all(
      legs.map(async ({ leg, instrument, side, fills, purposes }) => {
        for (const purpose of purposes) {
          const remaining = closable(leg.qty.minus(sumQty(fills)), instrument);
          if (remaining.lte(0)) return;
          if (fills.some((f) => f.clientOrderId === clientOrderId(sender.id, purpose))) continue;
          await recovery?.begin();
          const outcome = await this.send(sender, executor, purpose, instrument, side, remaining);
          // An order of unknown outcome is never followed by another on the same leg: that could sell twice.
          if (outcome.outcome === 'unknown') return void unresolved.push(outcome);
          if (outcome.fill) fills.push(outcome.fill);
          else if (purpose === purposes[purposes.length - 1]) failures.push(`${leg.kind}: ${this.describeFailure(outcome)}`);
        }
        const left = closable(leg.qty.minus(sumQty(fills)), instrument);
        if (left.gt(0) && !failures.some((f) => f.startsWith(leg.kind))) failures.push(`${leg.kind}: ${left.toString()} ${op.coin} still open`);
      }),
    );
    this.requireKnown(op, ...unresolved);
    // This attempt's exits, added to any earlier attempt's: realised PnL counts every fill and fee.
    const exits = addExits(position.earlierExits ?? NO_EXITS, spotFills, perpFills);
    if (failures.length > 0) {
      const remainingPosition: Position = {
        ...position,
        spotLeg: { ...position.spotLeg, qty: position.spotLeg.qty.minus(sumQty(spotFills)) },
        perpLeg: { ...position.perpLeg, qty: position.perpLeg.qty.minus(sumQty(perpFills)) },
        earlierExits: exits,
      };
      const message = `${op.coin} close incomplete: ${failures.join('; ')}. Remaining: spot ${remainingPosition.spotLeg.qty.toString()}, perp ${remainingPosition.perpLeg.qty.toString()}; /close ${op.coin} again or act by hand`;
      await this.transition(op, 'failed', message, 'CLOSE_INCOMPLETE', remainingPosition);
      this.deps.events.emit({ type: 'error', critical: true, operation: op, code: 'CLOSE_INCOMPLETE', message });
      throw new DeltaHedgeError(message);
    }
    // What the spot close sold; dust under one lot step stays in the wallet, outside the PnL.
    const spotDust = position.spotLeg.qty.minus(sumQty(spotFills));
    const exitSpotPrice = exits.spotQty.isZero() ? ZERO : exits.spotValueUsd.div(exits.spotQty);
    const exitPerpPrice = exits.perpQty.isZero() ? ZERO : exits.perpValueUsd.div(exits.perpQty);
    const entryFees = position.spotLeg.entryFeeUsd.plus(position.perpLeg.entryFeeUsd);
    const spotPnl = exits.spotValueUsd.minus(position.spotLeg.entryPrice.mul(exits.spotQty));
    const perpPnl = position.perpLeg.entryPrice.mul(exits.perpQty).minus(exits.perpValueUsd);
    const closed: Position = {
      ...position,
      status: 'closed',
      closedAtMs: this.deps.clock.nowMs(),
      closeOperationId: op.id,
      exitSpotPrice,
      exitPerpPrice,
      exitFeesUsd: exits.feesUsd,
      realisedPnlUsd: spotPnl.plus(perpPnl).minus(exits.feesUsd).minus(entryFees),
      ...(spotDust.gt(0) ? { spotDustQty: spotDust } : {}),
    };
    await this.transition(op, 'closed', `closed at spot ${exitSpotPrice.toString()}, perp ${exitPerpPrice.toString()}${dustNote(spotDust)}`, undefined, closed);
    this.deps.events.emit({ type: 'closed', critical: false, operation: op, position: closed });
    return closed;
  }

  private async createPosition(
    op: Operation,
    pair: HedgePair,
    spotFill: OrderResult,
    spotQty: Decimal,
    perpFill: OrderResult,
    perpQty: Decimal,
  ): Promise<Position> {
    const now = this.deps.clock.nowMs();
    // Held from its later fill (never in the future), also when recovery rebuilds it long after.
    const filledAtMs = Math.min(now, Math.max(spotFill.timestampMs, perpFill.timestampMs));
    const leg = (instrument: Instrument, fill: OrderResult, qty: Decimal): Leg => ({
      kind: instrument.kind,
      symbol: instrument.symbol,
      side: fill.side,
      qty,
      entryPrice: fill.avgPrice,
      entryFeeUsd: fill.feeUsd,
    });
    const position: Position = {
      id: newPositionId(now),
      coin: op.coin,
      mode: op.mode,
      spotLeg: leg(pair.spot, spotFill, spotQty),
      perpLeg: leg(pair.perp, perpFill, perpQty),
      openedAtMs: filledAtMs,
      openedBy: op.requestedBy.name,
      openOperationId: op.id,
      status: 'open',
      lastFundingMs: filledAtMs,
    };
    op.positionId = position.id;
    await this.transition(op, 'open', `position ${position.id}: spot ${spotQty.toString()} @ ${spotFill.avgPrice.toString()}, perp ${perpQty.toString()} @ ${perpFill.avgPrice.toString()}`, undefined, position);
    return position;
  }

  /** Builds and places one order of `op`. */
  private send(op: Operation, executor: Executor, purpose: OrderPurpose, instrument: Instrument, side: Side, qty: Decimal): Promise<LegOutcome> {
    return this.place(executor, this.order(op, purpose, instrument, side, qty));
  }

  /**
   * After recovery decided from "the venue does not know it", the orders it did not find are
   * watched: if one was sent and fills late after all, `sweepLateFills` undoes it once the
   * operation is finished, since the operation went on as if it had not filled. What it found is
   * counted now and no longer watched.
   */
  private async watchMissing(op: Operation, requests: readonly OrderRequest[], found: readonly OrderResult[]): Promise<void> {
    for (const request of requests) {
      if (!found.some((f) => f.clientOrderId === request.clientOrderId)) await this.watch(op, request);
    }
    await this.unwatch(found.map((f) => f.clientOrderId));
  }

  private async unwatch(clientOrderIds: readonly string[]): Promise<void> {
    if (clientOrderIds.length === 0) return;
    await this.deps.locks.withLock(WATCH_LOCK, async () => {
      const list = (await this.deps.store.getValue<WatchedOrder[]>(WATCH_KEY)) ?? [];
      const kept = list.filter((w) => !clientOrderIds.includes(w.request.clientOrderId));
      if (kept.length !== list.length) await this.deps.store.putValue(WATCH_KEY, kept);
    });
  }

  /**
   * Stops the operation, unfinished, when any of `legs` has an unknown outcome: nothing may be
   * decided (roll back, open, close) on the guess that it did or did not fill. The operation stays
   * `placing`; the team is told now what is known, and recovery finishes it from the venue's
   * answers at the next delta check. `others` are the operation's known orders, for the message.
   */
  private requireKnown(op: Operation, ...legs: LegOutcome[]): void {
    const unknown = legs.filter((l) => l.outcome === 'unknown');
    if (unknown.length === 0) return;
    const known = legs.filter((l) => l.outcome !== 'unknown' && l.fill).map((l) => l.fill as OrderResult);
    const orders = unknown.map((l) => ({ request: l.request, reason: l.error?.message ?? 'still working at the venue' }));
    this.deps.events.emit({ type: 'unresolved', critical: true, operation: op, orders, filled: known });
    const what = orders.map((o) => `${o.request.kind} ${o.request.side} ${o.request.qty.toString()} ${op.coin} (${o.request.clientOrderId}): ${o.reason}`).join('; ');
    const message = `${op.coin} ${op.kind} (op ${op.id}) is unfinished: the outcome of ${what} is unknown; the bot keeps asking the venue and finishes it at the next delta check`;
    // A leg that did not answer within the hedge timeout is the hedge's timeout; any other unknown is the venue's silence.
    throw unknown.every((l) => l.timedOut) ? new DeltaHedgeTimeout(message) : new OrderOutcomeUnknownError(message);
  }

  private async watch(op: Operation, request: OrderRequest): Promise<void> {
    const entry: WatchedOrder = { operationId: op.id, mode: op.mode, request, sinceMs: this.deps.clock.nowMs() };
    // Lock order is always coin, then watch list (a sweep never holds the list while waiting for a coin).
    await this.deps.locks.withLock(WATCH_LOCK, async () => {
      const list = (await this.deps.store.getValue<WatchedOrder[]>(WATCH_KEY)) ?? [];
      if (list.some((w) => w.request.clientOrderId === request.clientOrderId)) return;
      await this.deps.store.putValue(WATCH_KEY, [...list, entry]);
    });
    this.deps.logger.warn({ operationId: op.id, clientOrderId: request.clientOrderId }, 'order outcome unknown; watching for a late fill');
  }

  /**
   * Looks up again every order whose fate was unknown when its operation moved on. One that has
   * filled since is undone at once (client id `<op>sl` / `<op>pl`, so a retry never sends a second
   * undo) and alerted as critical; an undo that fails is alerted once and tried again on every
   * sweep. One still unknown after LATE_FILL_WATCH_MS is dropped. Returns how many were undone.
   */
  async sweepLateFills(): Promise<number> {
    const list = (await this.deps.store.getValue<WatchedOrder[]>(WATCH_KEY)) ?? [];
    if (list.length === 0) return 0;
    const settled = new Set<string>();
    /** Undos that failed for the first time: alerted now, flagged so the next failures are not. */
    const firstFailures = new Set<string>();
    let late = 0;
    for (const watched of list) {
      const { request } = watched;
      await this.deps.locks.withLock(coinLock(request.coin), async () => {
        // While its operation is unfinished, recovery counts what the order did: undoing it here would count it twice.
        const op = await this.deps.store.getOperation(watched.operationId);
        if (op && !FINISHED_STATES.has(op.state)) return;
        const executor = this.deps.executors(watched.mode);
        let fill: OrderResult | null;
        try {
          fill = await executor.lookup(request.symbol, request.clientOrderId);
        } catch (err) {
          this.deps.logger.warn({ clientOrderId: request.clientOrderId, err: asBotError(err).message }, 'late-fill lookup failed; trying again next sweep');
          return;
        }
        if (fill?.status === 'working') return;
        if (fill && fill.filledQty.gt(0)) {
          if (await this.undoLateFill(watched, fill, executor)) {
            late += 1;
            settled.add(request.clientOrderId);
          } else if (!watched.undoFailedAlerted) {
            firstFailures.add(request.clientOrderId);
          }
        } else if (this.deps.clock.nowMs() - watched.sinceMs > LATE_FILL_WATCH_MS) {
          settled.add(request.clientOrderId);
          this.deps.logger.info({ clientOrderId: request.clientOrderId }, 'no late fill within the watch; no longer watched');
        }
      });
    }
    if (settled.size > 0 || firstFailures.size > 0) {
      await this.deps.locks.withLock(WATCH_LOCK, async () => {
        const current = (await this.deps.store.getValue<WatchedOrder[]>(WATCH_KEY)) ?? [];
        await this.deps.store.putValue(
          WATCH_KEY,
          current
            .filter((w) => !settled.has(w.request.clientOrderId))
            .map((w) => (firstFailures.has(w.request.clientOrderId) ? { ...w, undoFailedAlerted: true } : w)),
        );
      });
    }
    return late;
  }

  /** Places the undo of a late fill; alerts when it is done, or the first time it fails. True when done. */
  private async undoLateFill(watched: WatchedOrder, fill: OrderResult, executor: Executor): Promise<boolean> {
    const { request } = watched;
    const { instrument, side } = this.takeBack(request);
    const qty = closable(fill.filledQty, instrument);
    const purpose = request.kind === 'spot' ? 'spotlate' : 'perplate';
    const undoRequest = this.order({ id: watched.operationId, coin: request.coin }, purpose, instrument, side, qty);
    // An earlier sweep's undo may have filled with its answer lost: never send the same undo twice.
    const earlier = await executor.lookup(undoRequest.symbol, undoRequest.clientOrderId);
    if (earlier?.status === 'working') return false;
    const undo: LegOutcome = earlier ? { request: undoRequest, outcome: 'filled', fill: earlier, error: null } : await this.place(executor, undoRequest);
    if (undo.outcome === 'unknown') return false;
    const undone = undo.fill !== null && filledQty(undo).eq(qty);
    if (undone || !watched.undoFailedAlerted) {
      this.deps.events.emit({
        type: 'late_fill',
        critical: true,
        operationId: watched.operationId,
        fill,
        reversal: undo.fill,
        ...(undone ? {} : { reversalError: `${this.describeFailure(undo)}; tried again at every delta check` }),
      });
    }
    return undone;
  }

  /**
   * Sends one order and waits at most the hedge timeout. Only the venue's refusal (OrderRejectedError)
   * makes it refused; any other failure — no answer, a lost answer, a failed read or booking after
   * the venue may have acted — is looked up by client order id. A holder that lost its lock sends
   * nothing more.
   */
  private async place(executor: Executor, request: OrderRequest): Promise<LegOutcome> {
    assertLocksHeld();
    // The timeout's timer is freed as soon as the order answers.
    const answered = new AbortController();
    try {
      const result = await Promise.race([executor.execute(request), this.deps.clock.sleep(this.deps.hedgeTimeoutMs, answered.signal).then(() => null)]).finally(() =>
        answered.abort(),
      );
      if (result && result.status !== 'working') return { request, outcome: 'filled', fill: result, error: null };
      const outcome = await this.lookUpUnknown(executor, request, new OrderTimeoutError(result ? 'accepted, not finished by the venue' : `no answer within ${this.deps.hedgeTimeoutMs} ms`));
      return result ? outcome : { ...outcome, timedOut: true };
    } catch (err) {
      const error = asBotError(err);
      this.deps.logger.info({ clientOrderId: request.clientOrderId, err: error.message }, 'order failed');
      if (error instanceof OrderRejectedError) return { request, outcome: 'refused', fill: null, error };
      return this.lookUpUnknown(executor, request, error);
    }
  }

  /**
   * Asks the venue for an order whose outcome is unknown, three times with a pause. Only a final
   * fill ends it; "no such order" (a venue may not list an order it just took), an order still
   * working or a failing lookup leave it unknown.
   */
  private async lookUpUnknown(executor: Executor, request: OrderRequest, cause: BotError): Promise<LegOutcome> {
    let last: LegOutcome = { request, outcome: 'unknown', fill: null, error: cause };
    for (let attempt = 1; attempt <= LOOKUP_ATTEMPTS; attempt += 1) {
      try {
        const found = await executor.lookup(request.symbol, request.clientOrderId);
        if (!found) {
          last = { request, outcome: 'unknown', fill: null, error: new OrderTimeoutError(`${cause.message}; the venue does not know the order (yet)`) };
        } else if (found.status !== 'working') {
          return { request, outcome: 'filled', fill: found, error: null };
        } else {
          last = { request, outcome: 'unknown', fill: null, error: new OrderTimeoutError(`accepted and still working at the venue (${found.filledQty.toString()} filled so far)`) };
        }
      } catch (err) {
        this.deps.logger.warn({ clientOrderId: request.clientOrderId, attempt, err: asBotError(err).message }, 'order lookup failed');
        last = { request, outcome: 'unknown', fill: null, error: new OrderTimeoutError(`${cause.message}; looking it up failed too (${asBotError(err).message})`) };
      }
      if (attempt < LOOKUP_ATTEMPTS) await this.deps.clock.sleep(500 * attempt);
    }
    return last;
  }

  private order(op: Pick<Operation, 'id' | 'coin'>, purpose: OrderPurpose, instrument: Instrument, side: Side, qty: Decimal): OrderRequest {
    return {
      clientOrderId: clientOrderId(op.id, purpose),
      coin: op.coin,
      kind: instrument.kind,
      symbol: instrument.symbol,
      side,
      qty,
      reduceOnly: instrument.kind === 'perp' && side === 'buy',
    };
  }

  /** The venue's answers for orders of `op` (recovery): final fills; a working one leaves `op` unfinished. */
  private async lookupRequests(executor: Executor, op: Operation, requests: readonly OrderRequest[]): Promise<OrderResult[]> {
    const fills: OrderResult[] = [];
    for (const request of requests) {
      const fill = await executor.lookup(request.symbol, request.clientOrderId);
      if (fill?.status === 'working') {
        throw new OrderOutcomeUnknownError(`${op.coin} ${op.kind} (op ${op.id}) is unfinished: order ${request.clientOrderId} is still working at the venue (${fill.filledQty.toString()} filled so far)`);
      }
      if (fill) fills.push(fill);
    }
    return fills;
  }

  private describeFailure(leg: LegOutcome): string {
    if (leg.fill) return `filled ${leg.fill.filledQty.toString()} of ${leg.request.qty.toString()}`;
    return leg.error ? leg.error.message : 'no fill';
  }

  private async loadOperation(id: string): Promise<Operation> {
    const op = await this.deps.store.getOperation(id);
    if (!op) throw new NotFoundError(`no operation ${id}`);
    return op;
  }

  private async loadOpenPosition(op: Operation): Promise<Position> {
    const position = op.positionId ? await this.deps.store.getPosition(op.positionId) : null;
    if (!position || position.status !== 'open') throw new OperationStateError(`position ${op.positionId ?? '?'} is not open`);
    return position;
  }

  private expectState(op: Operation, state: OperationState): void {
    if (op.state !== state) {
      throw new OperationStateError(`operation ${op.id} is ${op.state}, not ${state}; it is not placed again`);
    }
  }

  /** Advances `op` and stores it; with `position`, both in one transaction (the step that made or closed it). */
  private async transition(op: Operation, state: OperationState, note: string, errorCode?: string, position?: Position): Promise<void> {
    await this.book.advance(op, state, note, { ...(errorCode ? { errorCode } : {}), ...(position ? { position } : {}) });
    this.deps.logger.info({ operationId: op.id, state, note }, 'operation step');
  }
}

/** The whole lot steps of `qty`: what an order can carry. Less than one step is dust no venue takes. */
function closable(qty: Decimal, instrument: Instrument): Decimal {
  return qty.gt(0) ? floorToStep(qty, instrument.qtyStep) : ZERO;
}

function dustNote(dust: Decimal): string {
  return dust.gt(0) ? ` (${dust.toString()} left as dust under one lot step)` : '';
}

function sumQty(fills: readonly OrderResult[]): Decimal {
  return fills.reduce((sum, f) => sum.plus(f.filledQty), ZERO);
}

/**
 * A leg's opening fill with the orders that cut it back folded in: all their fees, and the entry
 * price at which the held quantity's PnL equals the cash the leg really moved, so a hedge opened
 * through a partial fill books the fix order's cost in its realised PnL like every other fee.
 */
function netted(opening: OrderResult, reductions: readonly OrderResult[], qty: Decimal): OrderResult {
  if (reductions.length === 0) return opening;
  const cash = reductions.reduce((sum, f) => sum.minus(f.filledQty.mul(f.avgPrice)), opening.filledQty.mul(opening.avgPrice));
  return { ...opening, filledQty: qty, avgPrice: cash.div(qty), feeUsd: sumFees([opening, ...reductions]) };
}

function sumFees(fills: readonly OrderResult[]): Decimal {
  return fills.reduce((sum, f) => sum.plus(f.feeUsd), ZERO);
}

const NO_EXITS: ExitTotals = { spotQty: ZERO, spotValueUsd: ZERO, perpQty: ZERO, perpValueUsd: ZERO, feesUsd: ZERO };

/** Exit totals with more close fills added. */
function addExits(totals: ExitTotals, spotFills: readonly OrderResult[], perpFills: readonly OrderResult[]): ExitTotals {
  const value = (fills: readonly OrderResult[]): Decimal => fills.reduce((sum, f) => sum.plus(f.filledQty.mul(f.avgPrice)), ZERO);
  return {
    spotQty: totals.spotQty.plus(sumQty(spotFills)),
    spotValueUsd: totals.spotValueUsd.plus(value(spotFills)),
    perpQty: totals.perpQty.plus(sumQty(perpFills)),
    perpValueUsd: totals.perpValueUsd.plus(value(perpFills)),
    feesUsd: totals.feesUsd.plus(sumFees([...spotFills, ...perpFills])),
  };
}
