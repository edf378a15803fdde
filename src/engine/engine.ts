import type { Logger } from 'pino';
import type { Clock } from './domain/clock.js';
import { BPS, Decimal, ZERO } from './domain/decimal.js';
import {
  BotError,
  InvalidInputError,
  RiskLimitError,
  ModeChangeError,
  NotFoundError,
  OperationStateError,
  QuoteMovedError,
} from './domain/errors.js';
import { newOperationId } from './domain/ids.js';
import { advanceOperation, isUnderway } from './domain/operation.js';
import {
  FINISHED_STATES,
  QUOTE_ASSET,
  perpAsset,
  type AuditEntry,
  type DeltaStatus,
  type LegKind,
  type Operation,
  type OperationState,
  type Position,
  type Requester,
  type Side,
  type LiquidationSource,
  type TradingMode,
} from './domain/types.js';
import { EventBus, type EventListener } from './events.js';
import type { FaultPlan } from './exchange/faults.js';
import type { Exchange } from './exchange/port.js';
import { takerPrice } from './exchange/simulatedFill.js';
import { LedgerView } from './execution/ledgerView.js';
import { LiveExecutor } from './execution/liveExecutor.js';
import { PAPER_SLIPPAGE_BPS, PaperExecutor } from './execution/paperExecutor.js';
import type { Balances, Executor } from './execution/port.js';
import { FeeCalculator } from './market/feeCalculator.js';
import { rankFunding, type FundingOpportunity } from './market/funding.js';
import { InstrumentInfo, type HedgePair } from './market/instrumentInfo.js';
import { TickerService } from './market/tickerService.js';
import { DeltaValidator } from './position/deltaValidator.js';
import { FundingAccrual } from './position/fundingAccrual.js';
import { FundingCheck, type FundingCheckRecord, type FundingCheckResult } from './position/fundingCheck.js';
import { ACCOUNT_LOCK, InProcessLocks, MODE_LOCK, coinLock, type Locks } from './position/locks.js';
import { addOffset, coinsToCompare, compareHoldingsOfCoin, differenceKey, heldQty, type HoldingDifference, type HoldingOffsets } from './position/holdings.js';
import { OperationBook } from './store/operationBook.js';
import { PositionManager } from './position/positionManager.js';
import { PositionSizer } from './position/positionSizer.js';
import { RiskManager, type RiskLimits } from './risk/riskManager.js';
import type { Store } from './store/port.js';

export interface EngineConfig {
  /** Mode at first start; afterwards the mode stored in Redis wins. */
  initialMode: TradingMode;
  hedgeTimeoutMs: number;
  driftToleranceBps: Decimal;
  /** A confirmation is refused when either leg's price moved more than this since the preview. */
  quoteToleranceBps: Decimal;
  quoteTtlMs: number;
  maxPriceAgeMs: number;
  limits: RiskLimits;
  paperStartUsdt: Decimal;
  fundingHoldDays: number;
  /** Maintenance margin rate of the perp (fraction), for the liquidation estimate. */
  maintenanceMarginRate: Decimal;
  /** Alert when a short's estimated liquidation is closer than this (percent of the mark). */
  liquidationAlertPct: Decimal;
  /** A hedge's funding the venue paid may differ from the ledger's by this much (USD)… */
  fundingMismatchToleranceUsd: Decimal;
  /** …plus this percent of the larger of the two sums, before it is alerted. */
  fundingMismatchTolerancePct: Decimal;
  /** Net APR (percent) above which a coin is announced once; null for no such alerts. */
  fundingAlertAprPct: Decimal | null;
  paperFaults: FaultPlan;
  paperLegLatencyMs: number;
}

export interface EngineDeps {
  config: EngineConfig;
  clock: Clock;
  store: Store;
  /** Market data (and, in live mode, orders). */
  exchange: Exchange;
  /** Present only when live trading is configured. */
  liveExchange?: Exchange;
  logger: Logger;
  locks?: Locks;
}

export interface LegQuote {
  kind: LegKind;
  symbol: string;
  side: Side;
  qty: Decimal;
  /** Expected fill price: the current price moved against us by the paper slippage. */
  price: Decimal;
  notionalUsd: Decimal;
  feeUsd: Decimal;
}

export interface OpenPreview {
  operation: Operation;
  spot: LegQuote;
  perp: LegQuote;
  feesUsd: Decimal;
  funding: FundingOpportunity | null;
}

export interface ClosePreview {
  operation: Operation;
  position: Position;
  spot: LegQuote;
  perp: LegQuote;
  feesUsd: Decimal;
  fundingEarnedUsd: Decimal;
  /** Price PnL at the quoted exits, minus entry and exit fees, plus funding earned. */
  expectedPnlUsd: Decimal;
}

export interface PositionView {
  position: Position;
  spotMark: Decimal | null;
  perpMark: Decimal | null;
  delta: DeltaStatus;
  fundingEarnedUsd: Decimal;
  /** Price PnL at the marks minus entry fees; null without a fresh mark. */
  unrealisedPnlUsd: Decimal | null;
  /**
   * Liquidation price of the short: the venue's own figure in live mode when it reports one,
   * otherwise an estimate (isolated margin at the configured leverage).
   */
  liquidationPrice: Decimal;
  liquidationSource: LiquidationSource;
  /** How far the mark may rise before liquidation, in percent; null without a fresh mark. */
  liquidationDistancePct: Decimal | null;
  /** Live hedges: the funding the venue paid up to the last funding time checked; null before a check. */
  venueFunding: { paidUsd: Decimal; throughMs: number; sinceMs: number | null } | null;
}

export interface StatusReport {
  mode: TradingMode;
  liveConfigured: boolean;
  spotUsdt: Decimal;
  perpUsdt: Decimal;
  perpEquityUsd: Decimal;
  /** Spot and perp draw on one USDT wallet (a unified account): spotUsdt and the perp equity are the same money. */
  sharedQuote: boolean;
  totalExposureUsd: Decimal;
  /** Every open hedge, of any mode (each names its own). */
  positions: PositionView[];
  /** What the venue holds that the records do not account for (coin, leg, quantity), by mode. */
  unaccounted: HoldingDifference[];
  unfinishedOperations: number;
  /** Differences found by surveillance that halt opens of their coins until resolved or accepted (/resume). */
  halted: HoldingDifference[];
}

export interface PnlRow {
  position: Position;
  /** Closed hedges: price PnL minus every fee. */
  realisedUsd: Decimal;
  fundingUsd: Decimal;
  /** Entry plus exit fees (already inside realised and unrealised). */
  feesUsd: Decimal;
  /** Open hedges at the marks, after entry fees; null without a fresh price. */
  unrealisedUsd: Decimal | null;
}

export interface PnlReport {
  mode: TradingMode;
  rows: PnlRow[];
  realisedUsd: Decimal;
  fundingUsd: Decimal;
  feesUsd: Decimal;
  unrealisedUsd: Decimal;
  /** Realised + funding + unrealised. */
  totalUsd: Decimal;
  unrealisedComplete: boolean;
  /** The same for each other mode that has hedges (their money is not added to this mode's). */
  otherModes: PnlReport[];
}

export interface RecoveryReport {
  operationId: string;
  kind: Operation['kind'];
  coin: string;
  outcome: string;
}

const MAX_NOTIONAL_INPUT = new Decimal('1e12');
const SCAN_KEY = 'funding:scan';
/** When the stored scan was taken: a small read that tells whether the decoded copy is current. */
const SCAN_AT_KEY = 'funding:scan:at';
const HALT_KEY = 'trading:halt';
/** Holdings an admin accepted as outside the hedges, by mode and coin (HoldingOffsets). */
const ACCEPTED_KEY = 'holdings:accepted';
const ACCEPTED_LOCK = 'holdings:accepted';

/** The coins whose opens wait: what differed at the last surveillance, until it matches or is accepted. */
interface HaltRecord {
  atMs: number;
  differences: HoldingDifference[];
}
const LIQUIDATION_KEY = 'liquidation:near';
const ABOVE_KEY = 'funding:above-threshold';

/**
 * The engine's one entry point for the chat front and the jobs. Everything that changes state is
 * an Operation: previewed (requested), confirmed, placed, and finished, each step stored.
 */
export class Engine {
  readonly events = new EventBus();
  private readonly tickers: TickerService;
  private readonly fees = new FeeCalculator();
  private readonly sizer = new PositionSizer();
  private readonly risk: RiskManager;
  private readonly validator: DeltaValidator;
  private readonly manager: PositionManager;
  private readonly accrual: FundingAccrual;
  private readonly fundingCheck: FundingCheck;
  private readonly executors: Record<TradingMode, Executor | null>;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The last funding scan this engine decoded or stored, shared read-only by every reader. */
  private scanCache: { atMs: number; rows: readonly FundingOpportunity[] } | null = null;
  /** Lock names of the operations this engine previewed, newest last (a preview's coin never changes). */
  private readonly previewLocks = new Map<string, string>();
  private readonly ledger: LedgerView;
  private readonly locks: Locks;
  private readonly book: OperationBook;
  private mode: TradingMode;
  /** The store's count of mode switches when the mode was last read; previews are bound to it. */
  private modeEpoch = 0;
  private ready = false;

  private constructor(
    private readonly deps: EngineDeps,
    private readonly instruments: InstrumentInfo,
  ) {
    const { config, clock, store, logger } = deps;
    const locks = deps.locks ?? new InProcessLocks();
    this.ledger = new LedgerView(store);
    this.locks = locks;
    this.book = new OperationBook(store, clock);
    this.mode = config.initialMode;
    this.tickers = new TickerService(deps.exchange, clock, config.maxPriceAgeMs);
    this.risk = new RiskManager(config.limits, this.tickers);
    this.validator = new DeltaValidator(config.driftToleranceBps);
    this.executors = {
      paper: new PaperExecutor({
        store,
        tickers: this.tickers,
        instruments,
        clock,
        faults: config.paperFaults,
        legLatencyMs: config.paperLegLatencyMs,
        ledger: this.ledger,
      }),
      live: deps.liveExchange ? new LiveExecutor(deps.liveExchange, store) : null,
    };
    this.manager = new PositionManager({
      store,
      executors: (mode) => this.executor(mode),
      instruments,
      validator: this.validator,
      locks,
      events: this.events,
      clock,
      hedgeTimeoutMs: config.hedgeTimeoutMs,
      logger,
    });
    this.accrual = new FundingAccrual({ store, tickers: this.tickers, events: this.events, clock, locks, exchange: deps.exchange });
    this.fundingCheck = new FundingCheck({
      store,
      ledger: this.ledger,
      events: this.events,
      clock,
      logger,
      exchange: deps.liveExchange ?? null,
      tolerance: { absoluteUsd: config.fundingMismatchToleranceUsd, relative: config.fundingMismatchTolerancePct.div(100) },
    });
  }

  /** Loads markets and prices and funds the paper account on first start. Call start() next. */
  static async create(deps: EngineDeps): Promise<Engine> {
    const engine = new Engine(deps, await InstrumentInfo.load(deps.exchange));
    await engine.refreshPrices();
    await deps.store.appendLedger(
      (['spot', 'perp'] as const).map((account) => ({
        id: `deposit:paper:${account}`,
        atMs: deps.clock.nowMs(),
        kind: 'deposit' as const,
        account,
        asset: QUOTE_ASSET,
        amount: deps.config.paperStartUsdt,
        ref: 'paper start',
        mode: 'paper' as const,
      })),
    );
    await engine.currentMode();
    return engine;
  }

  /**
   * Resolves every operation a previous run left unfinished, then accepts new work. A process
   * that runs no operations (the chat front beside workers) passes `recover: false`.
   */
  async start(options: { recover: boolean } = { recover: true }): Promise<RecoveryReport[]> {
    const reports: RecoveryReport[] = [];
    if (!options.recover) {
      this.ready = true;
      return reports;
    }
    for (const op of await this.deps.store.listUnfinishedOperations()) {
      // A preview still within its time may be confirmed from another process: leave it.
      if (op.state === 'requested' && op.quote && op.quote.expiresAtMs >= this.deps.clock.nowMs()) continue;
      let outcome: string;
      try {
        outcome = await this.manager.recover(op.id);
      } catch (err) {
        outcome = `recovery failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      reports.push({ operationId: op.id, kind: op.kind, coin: op.coin, outcome });
      const latest = (await this.deps.store.getOperation(op.id)) ?? op;
      // A preview that simply expired is not worth waking the team for.
      if (op.state !== 'requested') this.events.emit({ type: 'recovery', critical: true, operation: latest, outcome });
    }
    await this.reconcile();
    this.ready = true;
    return reports;
  }

  /** Finishes an operation that was confirmed but not completed (a retried or stalled job). */
  async resume(operationId: string): Promise<string> {
    const outcome = await this.track(this.manager.recover(operationId));
    const op = await this.deps.store.getOperation(operationId);
    if (op) this.events.emit({ type: 'recovery', critical: true, operation: op, outcome });
    return outcome;
  }

  subscribe(listener: EventListener): () => void {
    return this.events.subscribe(listener);
  }

  coins(): string[] {
    return this.instruments.coins();
  }

  /** The mode as stored, so every process (chat front, workers) agrees after a switch. */
  async currentMode(): Promise<TradingMode> {
    const stored = await this.deps.store.getModeState();
    if (stored.mode && (stored.mode === 'paper' || this.executors.live)) this.mode = stored.mode;
    this.modeEpoch = stored.epoch;
    return this.mode;
  }

  liveConfigured(): boolean {
    return this.executors.live !== null;
  }

  async refreshPrices(): Promise<void> {
    await this.tickers.refresh(this.instruments.allSymbols());
  }

  async previewOpen(coinText: string, notionalUsd: Decimal, by: Requester): Promise<OpenPreview> {
    this.assertReady();
    const pair = this.pairOf(coinText);
    if (!notionalUsd.isFinite() || notionalUsd.lte(0) || notionalUsd.gt(MAX_NOTIONAL_INPUT)) {
      throw new InvalidInputError(`the amount must be a positive number of USD per leg, e.g. /open ${pair.coin} 1000`);
    }
    // Prices, the mode and the risk check's reads all go out at once.
    const prices = this.tickers.refresh([pair.spot.symbol, pair.perp.symbol]);
    const { spotPrice, perpPrice, qty } = await this.quoteOpen(pair, notionalUsd, this.currentMode(), prices);
    const now = this.deps.clock.nowMs();
    const operation = this.newOperation('open', pair.coin, by, {
      notionalUsd,
      quote: { spotPrice, perpPrice, qty, quotedAtMs: now, expiresAtMs: now + this.deps.config.quoteTtlMs },
    });
    const spot = this.legQuote(pair, 'spot', 'buy', qty, spotPrice);
    const perp = this.legQuote(pair, 'perp', 'sell', qty, perpPrice);
    const [, funding] = await Promise.all([
      this.putPreview(operation),
      this.fundingFor(pair.coin),
      this.audit(by, `preview open ${pair.coin} ${notionalUsd.toString()} USD`, `operation ${operation.id}`),
    ]);
    return { operation, spot, perp, feesUsd: spot.feeUsd.plus(perp.feeUsd), funding };
  }

  async previewClose(target: string, by: Requester): Promise<ClosePreview> {
    this.assertReady();
    await this.currentMode();
    const position = await this.findOpenPosition(target);
    const pair = this.instruments.pair(position.coin);
    await this.tickers.refresh([pair.spot.symbol, pair.perp.symbol]);
    const spotPrice = this.tickers.get(pair.spot.symbol).last;
    const perpPrice = this.tickers.get(pair.perp.symbol).last;
    const now = this.deps.clock.nowMs();
    const operation = this.newOperation('close', position.coin, by, {
      // A hedge of the other mode is closed in its own mode.
      mode: position.mode,
      positionId: position.id,
      quote: { spotPrice, perpPrice, qty: position.spotLeg.qty, quotedAtMs: now, expiresAtMs: now + this.deps.config.quoteTtlMs },
    });
    await this.putPreview(operation);
    const spot = this.legQuote(pair, 'spot', 'sell', position.spotLeg.qty, spotPrice);
    const perp = this.legQuote(pair, 'perp', 'buy', position.perpLeg.qty, perpPrice);
    const feesUsd = spot.feeUsd.plus(perp.feeUsd);
    const fundingEarnedUsd = await this.fundingEarned(position.id);
    const pricePnl = spot.price.minus(position.spotLeg.entryPrice).mul(position.spotLeg.qty).plus(position.perpLeg.entryPrice.minus(perp.price).mul(position.perpLeg.qty));
    const entryFees = position.spotLeg.entryFeeUsd.plus(position.perpLeg.entryFeeUsd);
    await this.audit(by, `preview close ${position.coin} (${position.id})`, `operation ${operation.id}`);
    return {
      operation,
      position,
      spot,
      perp,
      feesUsd,
      fundingEarnedUsd,
      expectedPnlUsd: pricePnl.minus(feesUsd).minus(entryFees).plus(fundingEarnedUsd),
    };
  }

  /**
   * Confirms a previewed open or close and runs it. Refuses an expired preview, one whose prices
   * moved beyond the tolerance, one made before a mode switch, and one already confirmed or
   * cancelled.
   */
  async confirm(operationId: string, by: Requester): Promise<{ operation: Operation; position: Position | null }> {
    this.assertReady();
    const lock = this.previewLocks.get(operationId) ?? lockOf(await this.requireOperation(operationId));
    if (lock === MODE_LOCK) return { operation: await this.locks.withLock(MODE_LOCK, () => this.applyMode(operationId, by)), position: null };
    // Check, confirm and place under one hold of the coin's lock: a double tap or a Cancel
    // confirms or cancels exactly once, and nothing can slip in between the last check and the orders.
    return this.track(
      this.locks.withLock(lock, async () => {
        const op = await this.markConfirmed(operationId, by);
        const place = (op.kind === 'open' ? this.manager.openConfirmed(op) : this.manager.closeConfirmed(op)).catch(async (err: unknown) => {
          // Refused before any order went out (the hedge closed meanwhile, a bad quote): say so in the record too.
          if (op.state === 'confirmed') await this.finish(op, 'failed', err instanceof Error ? err.message : String(err), err instanceof BotError ? err.code : 'INTERNAL');
          throw err;
        });
        // The audit line goes out beside the first write of the placement.
        const [, position] = await Promise.all([this.audit(by, `confirm ${op.kind} ${op.coin}`, `operation ${op.id}`), place]);
        // The manager advanced `op` in place through every stored step.
        return { operation: op, position };
      }),
    );
  }

  /**
   * Checks a previewed operation under its coin's lock and stores it confirmed, compare-and-set
   * from `requested` within the mode epoch it was previewed in. An open's risk check and its
   * confirmation happen under the account lock, counting every other confirmed open not yet
   * booked: that is its reservation, so confirms on any coins at once respect every limit. A
   * refusal is stored at once (expired, moved, halted, over a limit).
   */
  private async markConfirmed(operationId: string, by: Requester): Promise<Operation> {
    const op = await this.requireOperation(operationId);
    if (op.state !== 'requested') throw new OperationStateError(this.alreadyHandled(op));
    await this.settleEarlier(op);
    const quote = op.quote;
    if (!quote) throw new OperationStateError(`operation ${op.id} has nothing to confirm`);
    const now = this.deps.clock.nowMs();
    if (now > quote.expiresAtMs) {
      await this.finish(op, 'expired', 'confirmation came after the preview expired', 'QUOTE_EXPIRED');
      throw new QuoteMovedError(`the preview for ${op.coin} expired ${Math.round((now - quote.expiresAtMs) / 1000)} s ago; send the command again for a fresh quote`);
    }
    const pair = this.instruments.pair(op.coin);
    await this.tickers.refresh([pair.spot.symbol, pair.perp.symbol]);
    const moved = this.quoteMovedBps(pair, quote.spotPrice, quote.perpPrice);
    if (moved.gt(this.deps.config.quoteToleranceBps)) {
      await this.finish(op, 'failed', `price moved ${moved.toFixed(1)} bps since the preview`, 'QUOTE_MOVED');
      throw new QuoteMovedError(
        `${op.coin} moved ${moved.toFixed(1)} bps since the preview (limit ${this.deps.config.quoteToleranceBps.toString()} bps); nothing was placed, send the command again`,
      );
    }
    const confirm = (): Promise<void> => this.storeConfirmation(op, by);
    if (op.kind === 'close') await this.requireOpenPosition(op);
    if (op.kind !== 'open') {
      await confirm();
      return op;
    }
    await this.locks.withLock(ACCOUNT_LOCK, async () => {
      try {
        await this.quoteOpen(pair, op.notionalUsd ?? ZERO, op.mode, Promise.resolve(), op.id);
      } catch (err) {
        await this.finish(op, 'failed', err instanceof Error ? err.message : String(err), err instanceof BotError ? err.code : 'INTERNAL');
        throw err;
      }
      await confirm();
    });
    return op;
  }

  /**
   * Before anything new is confirmed on a coin, an earlier operation of it left unfinished (its
   * worker died, its lock was lost, an order's outcome was unknown) is finished from the venue's
   * answers: its orders may have acted after the records were last written. If it cannot be
   * finished yet, the new one is refused; nothing is placed over an unknown.
   */
  private async settleEarlier(op: Operation): Promise<void> {
    const earlier = (await this.deps.store.listUnfinishedOperations()).filter(
      (o) => o.id !== op.id && o.coin === op.coin && o.kind !== 'mode' && isUnderway(o),
    );
    for (const e of earlier) {
      if (await this.finishUnfinished(e)) continue;
      throw new OperationStateError(
        `an earlier ${e.kind} of ${op.coin} (op ${e.id}) is unfinished and could not be finished yet; nothing was placed, try again after the next delta check`,
      );
    }
  }

  /** A close is confirmed only while its hedge is still open (another close may have finished it). */
  private async requireOpenPosition(op: Operation): Promise<void> {
    const position = op.positionId ? await this.deps.store.getPosition(op.positionId) : null;
    if (position?.status === 'open') return;
    const message = `hedge ${op.positionId ?? '?'} of ${op.coin} is no longer open; nothing was placed`;
    await this.finish(op, 'failed', message, 'NOT_OPEN');
    throw new OperationStateError(message);
  }

  /** requested → confirmed, refused when the mode switched since the preview (the preview then expires). */
  private async storeConfirmation(op: Operation, by: Requester): Promise<void> {
    try {
      await this.book.advance(op, 'confirmed', `confirmed by ${by.name}`, { modeEpoch: op.modeEpoch ?? 0 });
    } catch (err) {
      if (err instanceof ModeChangeError) {
        const stale = await this.requireOperation(op.id);
        if (stale.state === 'requested') await this.finish(stale, 'expired', 'the trading mode was switched after the preview', 'MODE_CHANGED').catch(() => undefined);
      }
      throw err;
    }
  }

  /** Cancels a preview, under the same lock as its confirmation: one of the two wins, never both. */
  async cancel(operationId: string, by: Requester): Promise<Operation> {
    const seen = await this.requireOperation(operationId);
    // Already confirmed: say so at once rather than wait for the placement to finish.
    if (seen.state !== 'requested') throw new OperationStateError(this.alreadyHandled(seen));
    return this.locks.withLock(lockOf(seen), async () => {
      const op = await this.requireOperation(operationId);
      if (op.state !== 'requested') throw new OperationStateError(this.alreadyHandled(op));
      await this.finish(op, 'cancelled', `cancelled by ${by.name}`);
      await this.audit(by, `cancel ${op.kind} ${op.coin}`, `operation ${op.id}`);
      return op;
    });
  }

  async getOperation(operationId: string): Promise<Operation | null> {
    return this.deps.store.getOperation(operationId);
  }

  /**
   * The current mode's balances and every open hedge of any mode (a hedge left in the other mode
   * is shown, not hidden), with what the venue holds that no record accounts for.
   */
  async status(): Promise<StatusReport> {
    await this.currentMode();
    const [positions, halt, unfinished, funding, checked, accepted] = await Promise.all([
      this.deps.store.listPositions(),
      this.readHalt(),
      this.deps.store.listUnfinishedOperations(),
      this.ledger.fundingByPosition(),
      this.fundingCheck.records(),
      this.acceptedOffsets(),
    ]);
    const open = positions.filter((p) => p.status === 'open');
    const modes = [...new Set<TradingMode>([this.mode, ...open.map((p) => p.mode)])].filter((m) => this.executors[m]);
    const balancesByMode = new Map(await Promise.all(modes.map(async (m) => [m, await this.executor(m).balances()] as const)));
    const balances = balancesByMode.get(this.mode) ?? (await this.executor(this.mode).balances());
    const views = open.map((p) => this.positionView(p, funding, checked[p.id], balancesByMode.get(p.mode)?.liquidationPrices));
    const unaccounted: HoldingDifference[] = [];
    const busy = busyCoins(unfinished, this.deps.clock.nowMs());
    for (const [mode, held] of balancesByMode) {
      const ofMode = open.filter((p) => p.mode === mode);
      const offsets = this.offsetsOf(positions, mode, accepted);
      for (const coin of coinsToCompare(held, ofMode, offsets, (c) => this.instruments.has(c))) {
        if (!busy.has(coin)) unaccounted.push(...this.compareCoin(mode, coin, held, ofMode, offsets).differences);
      }
    }
    const current = open.filter((p) => p.mode === this.mode);
    return {
      mode: this.mode,
      liveConfigured: this.liveConfigured(),
      spotUsdt: balances.spot.get(QUOTE_ASSET) ?? ZERO,
      perpUsdt: balances.perp.get(QUOTE_ASSET) ?? ZERO,
      perpEquityUsd: this.risk.perpEquityUsd(balances, current),
      sharedQuote: balances.sharedQuote === true,
      totalExposureUsd: this.risk.totalExposureUsd(current),
      positions: views,
      unaccounted,
      unfinishedOperations: unfinished.length,
      halted: halt.differences,
    };
  }

  /** PnL of every hedge of the current mode (realised, funding, fees, unrealised; with totals), then of any other mode that has hedges. */
  async pnl(): Promise<PnlReport> {
    await this.currentMode();
    const [positions, funding] = await Promise.all([this.deps.store.listPositions(), this.ledger.fundingByPosition()]);
    const others = [...new Set(positions.map((p) => p.mode))].filter((m) => m !== this.mode);
    return { ...this.pnlOf(this.mode, positions, funding), otherModes: others.map((m) => this.pnlOf(m, positions, funding)) };
  }

  private pnlOf(mode: TradingMode, all: readonly Position[], funding: ReadonlyMap<string, Decimal>): PnlReport {
    const positions = all.filter((p) => p.mode === mode);
    const rows: PnlRow[] = [];
    for (const position of positions) {
      const entryFees = position.spotLeg.entryFeeUsd.plus(position.perpLeg.entryFeeUsd);
      const feesUsd = entryFees.plus(position.exitFeesUsd ?? position.earlierExits?.feesUsd ?? ZERO);
      const fundingUsd = funding.get(position.id) ?? ZERO;
      if (position.status === 'closed') {
        rows.push({ position, realisedUsd: position.realisedPnlUsd ?? ZERO, fundingUsd, feesUsd, unrealisedUsd: ZERO });
      } else {
        const view = this.positionView(position, funding, undefined, undefined);
        rows.push({ position, realisedUsd: ZERO, fundingUsd, feesUsd, unrealisedUsd: view.unrealisedPnlUsd });
      }
    }
    const sum = (pick: (r: PnlRow) => Decimal | null): Decimal => rows.reduce((total, r) => total.plus(pick(r) ?? ZERO), ZERO);
    const realisedUsd = sum((r) => r.realisedUsd);
    const fundingUsd = sum((r) => r.fundingUsd);
    const unrealisedUsd = sum((r) => r.unrealisedUsd);
    return {
      mode,
      rows,
      realisedUsd,
      fundingUsd,
      feesUsd: sum((r) => r.feesUsd),
      unrealisedUsd,
      totalUsd: realisedUsd.plus(fundingUsd).plus(unrealisedUsd),
      unrealisedComplete: rows.every((r) => r.unrealisedUsd !== null),
      otherModes: [],
    };
  }

  async balances(): Promise<Balances> {
    await this.currentMode();
    return this.executor(this.mode).balances();
  }

  async positions(): Promise<Position[]> {
    return this.deps.store.listPositions();
  }

  /**
   * Previews a switch to live: it takes effect only on a second, explicit confirmation, and the
   * same checks run again then.
   */
  async previewMode(mode: TradingMode, by: Requester): Promise<Operation> {
    this.assertReady();
    await this.checkModeChange(mode);
    const now = this.deps.clock.nowMs();
    const operation = this.newOperation('mode', '-', by, { targetMode: mode, expiresAtMs: now + this.deps.config.quoteTtlMs });
    await this.putPreview(operation);
    await this.audit(by, `preview mode ${this.mode} → ${mode}`, `operation ${operation.id}`);
    return operation;
  }

  /**
   * Applies a confirmed mode change under the mode lock (a Cancel waits for it): the checks again,
   * then requested → confirmed (compare-and-set, so a Cancel that won stops it), then the switch,
   * which the store makes only when flat, in one step.
   */
  private async applyMode(operationId: string, by: Requester): Promise<Operation> {
    const op = await this.requireOperation(operationId);
    if (op.state !== 'requested') throw new OperationStateError(this.alreadyHandled(op));
    const target = op.targetMode;
    if (!target) throw new OperationStateError(`operation ${op.id} names no mode`);
    if (this.deps.clock.nowMs() > (op.expiresAtMs ?? 0)) {
      await this.finish(op, 'expired', 'confirmation came after the preview expired', 'QUOTE_EXPIRED');
      throw new QuoteMovedError(`the mode change expired; send /mode ${target} again`);
    }
    try {
      await this.checkModeChange(target);
    } catch (err) {
      await this.finish(op, 'failed', err instanceof Error ? err.message : String(err), err instanceof BotError ? err.code : 'INTERNAL');
      throw err;
    }
    await this.storeConfirmation(op, by);
    try {
      await this.switchTo(target, by, op.id);
    } catch (err) {
      await this.finish(op, 'failed', err instanceof Error ? err.message : String(err), err instanceof BotError ? err.code : 'INTERNAL');
      throw err;
    }
    await this.finish(op, 'done', `mode switched to ${target} by ${by.name}`);
    return op;
  }

  private async checkModeChange(mode: TradingMode): Promise<void> {
    await this.currentMode();
    if (mode === this.mode) throw new ModeChangeError(`already in ${mode} mode`);
    if (mode === 'live' && !this.liveConfigured()) {
      throw new ModeChangeError('live trading is not configured: set EXCHANGE and its API keys (see README, "Live trading") and restart');
    }
    if (mode === 'live') {
      // The keys must work before real orders depend on them.
      try {
        await this.deps.liveExchange?.fetchBalances();
      } catch (err) {
        throw new ModeChangeError(`the live venue refused the balance check (${err instanceof Error ? err.message : String(err)}); check the API keys and their permissions`);
      }
    }
    const open = await this.deps.store.listOpenPositions();
    const pending = (await this.deps.store.listUnfinishedOperations()).filter((o) => o.state !== 'requested');
    if (open.length > 0 || pending.length > 0) throw notFlat(mode, open.length, pending.length);
  }

  /** Switches paper ↔ live: only when flat and live trading is configured. */
  async setMode(mode: TradingMode, by: Requester): Promise<TradingMode> {
    this.assertReady();
    await this.checkModeChange(mode);
    await this.switchTo(mode, by, '');
    return mode;
  }

  /**
   * The switch itself, atomic in the store: refused unless flat (no open hedge of any mode, no
   * operation past its preview). Previews of the old mode can no longer be confirmed (the epoch
   * moved on); they are marked expired here so lists show them so.
   */
  private async switchTo(mode: TradingMode, by: Requester, selfId: string): Promise<void> {
    const from = this.mode;
    const result = await this.deps.store.switchMode(mode, selfId);
    if (!result.switched && 'lost' in result) throw new OperationStateError(`the switch to ${mode} (op ${selfId}) was cancelled or failed meanwhile; the mode was not changed`);
    if (!result.switched) throw notFlat(mode, result.openPositions, result.busyOperations);
    this.mode = mode;
    this.modeEpoch = result.epoch;
    await this.audit(by, `mode ${from} → ${mode}`, 'switched');
    for (const stale of await this.deps.store.listUnfinishedOperations()) {
      if (stale.state !== 'requested' || stale.id === selfId || stale.modeEpoch === result.epoch) continue;
      await this.finish(stale, 'expired', `the mode was switched to ${mode} before it was confirmed`, 'MODE_CHANGED').catch(() => undefined);
    }
  }

  /** Ranks every coin by funding APR net of both legs' fees; the result also serves /funding. */
  async scanFunding(): Promise<FundingOpportunity[]> {
    const rates = await this.deps.exchange.fetchFundingRates();
    const rows = rankFunding(rates, (coin) => (this.instruments.has(coin) ? this.instruments.pair(coin) : null), this.fees, this.deps.config.fundingHoldDays);
    const atMs = this.deps.clock.nowMs();
    // The scan first, then its time: a reader that sees the new time always finds the new scan.
    await this.deps.store.putValue(SCAN_KEY, { atMs, rows });
    await this.deps.store.putValue(SCAN_AT_KEY, atMs);
    this.scanCache = { atMs, rows };
    await this.alertFundingCrossings(rows);
    return rows;
  }

  /**
   * The latest scan (from any process), scanning now when there is none. The decoded scan is kept
   * until another one is stored: on a venue listing hundreds of perps, decoding it for every
   * preview would cost a millisecond or more.
   */
  async topFunding(limit: number): Promise<FundingOpportunity[]> {
    const atMs = await this.deps.store.getValue<number>(SCAN_AT_KEY);
    let rows = atMs !== null && this.scanCache?.atMs === atMs ? this.scanCache.rows : null;
    if (!rows) {
      const stored = await this.deps.store.getValue<{ atMs: number; rows: FundingOpportunity[] }>(SCAN_KEY);
      if (stored) this.scanCache = stored;
      rows = stored ? stored.rows : await this.scanFunding();
    }
    return rows.slice(0, limit);
  }

  /** Alerts once when a coin's net APR rises above the threshold, again only after it fell back. */
  private async alertFundingCrossings(rows: readonly FundingOpportunity[]): Promise<void> {
    const threshold = this.deps.config.fundingAlertAprPct;
    if (!threshold) return;
    const previous = new Set((await this.deps.store.getValue<string[]>(ABOVE_KEY)) ?? []);
    const above = rows.filter((r) => r.netAprPct.gte(threshold));
    const crossed = above.filter((r) => !previous.has(r.coin));
    await this.deps.store.putValue(ABOVE_KEY, above.map((r) => r.coin));
    if (crossed.length > 0) this.events.emit({ type: 'opportunity', critical: false, thresholdPct: threshold, rows: crossed });
  }

  /** Books funding for every funding time that has passed; returns how many were booked. */
  async accrueFunding(): Promise<number> {
    return this.accrual.accrue(await this.deps.exchange.fetchFundingRates());
  }

  /**
   * Compares the funding the ledger booked for each open live hedge with what the venue actually
   * paid, once per newly booked funding time; a mismatch beyond the tolerance raises a
   * funding_mismatch alert (once per mismatch). The ledger is left as booked.
   */
  async checkFundingPayments(): Promise<FundingCheckResult[]> {
    this.assertReady();
    return this.fundingCheck.check();
  }

  /**
   * Surveillance, every delta check: finishes operations left unfinished by an unknown order
   * outcome, undoes late fills, then compares, for every mode with hedges and every coin, what the
   * venue holds with what the records account for (both legs, both directions). A hedge whose legs
   * drifted apart is closed; anything else that differs is alerted and halts opens of that coin.
   * Nothing is decided from a snapshot taken while an order of that coin may be in flight: a coin
   * that differs is looked at again under its lock.
   */
  async checkDeltas(): Promise<DeltaStatus[]> {
    this.assertReady();
    await this.resumeUnfinished();
    // Orders given up as unknown that filled since are undone before the legs are compared.
    await Promise.all([this.manager.sweepLateFills(), this.currentMode()]);
    return (await this.survey(true)).deltas;
  }

  /**
   * Compares what the venue holds with the records, for every coin and mode with hedges, and
   * alerts (once) what differs; opens of those coins wait until it matches again or an admin
   * accepts it (/resume). Nothing is closed here.
   */
  async reconcile(): Promise<HoldingDifference[]> {
    await this.currentMode();
    return (await this.survey(false)).differences;
  }

  /** Operations still placing with no one working on them (an unknown order outcome, a lost worker): finished from the venue's answers. */
  private async resumeUnfinished(): Promise<void> {
    for (const op of await this.deps.store.listUnfinishedOperations()) {
      // A mode change is the mode lock's business (its confirm holds it), never a coin's recovery.
      if (op.kind === 'mode' || !isUnderway(op)) continue;
      await this.track(this.locks.withLock(coinLock(op.coin), () => this.finishUnfinished(op)));
    }
  }

  /**
   * Recovers an unfinished operation (its coin's lock held) and tells the team what came of it:
   * the outcome, a recovery that gave up, or — while the venue still does not answer — a reminder
   * now and then. True when the operation is finished now.
   */
  private async finishUnfinished(op: Operation): Promise<boolean> {
    try {
      const outcome = await this.manager.recoverHolding(op.id);
      if (!outcome.startsWith('already ')) this.events.emit({ type: 'recovery', critical: true, operation: (await this.deps.store.getOperation(op.id)) ?? op, outcome });
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const latest = await this.deps.store.getOperation(op.id);
      // Recovery gave up (an undo refused): that ends the operation, and the team must hear it.
      if (latest && FINISHED_STATES.has(latest.state)) {
        this.events.emit({ type: 'recovery', critical: true, operation: latest, outcome: `recovery failed: ${message}` });
        return true;
      }
      await this.remindUnfinished(latest ?? op, message);
      return false;
    }
  }

  /** An operation the venue still has not let finish is alerted again every UNFINISHED_REMINDER_MS, not only once. */
  private async remindUnfinished(op: Operation, reason: string): Promise<void> {
    this.deps.logger.warn({ operationId: op.id, err: reason }, 'unfinished operation not resolved yet; tried again at the next check');
    const ageMs = this.deps.clock.nowMs() - op.updatedAtMs;
    const reminder = Math.floor(ageMs / UNFINISHED_REMINDER_MS);
    if (reminder < 1 || !(await this.deps.store.claimOnce(`unfinished:${op.id}:${reminder}`, UNFINISHED_REMINDER_MS * 2))) return;
    const minutes = Math.round(ageMs / 60_000);
    const message = `${op.kind} ${op.coin} (op ${op.id}) is still unfinished after ${minutes} min: ${reason}. Check the venue by hand; the bot keeps trying at every delta check`;
    this.events.emit({ type: 'error', critical: true, operation: op, code: 'STILL_UNFINISHED', message });
  }

  private async survey(act: boolean): Promise<{ deltas: DeltaStatus[]; differences: HoldingDifference[] }> {
    const [positions, halt, unfinished] = await Promise.all([this.deps.store.listPositions(), this.readHalt(), this.deps.store.listUnfinishedOperations()]);
    // A coin with an operation still placing is that operation's to settle (its UNFINISHED alert
    // said what is known): its holdings are compared once it has finished.
    const busy = busyCoins(unfinished, this.deps.clock.nowMs());
    const modes = new Set<TradingMode>([this.mode]);
    for (const p of positions) if (p.status === 'open') modes.add(p.mode);
    for (const d of halt.differences) modes.add(d.mode);
    const deltas: DeltaStatus[] = [];
    const differences: HoldingDifference[] = [];
    const accepted = await this.acceptedOffsets();
    for (const mode of modes) {
      const executor = this.executors[mode];
      if (!executor) continue;
      const open = positions.filter((p) => p.status === 'open' && p.mode === mode);
      const offsets = this.offsetsOf(positions, mode, accepted);
      const balances = await executor.balances();
      await this.checkLiquidations(open, balances.liquidationPrices);
      for (const coin of coinsToCompare(balances, open, offsets, (c) => this.instruments.has(c))) {
        if (busy.has(coin)) continue;
        const found = this.compareCoin(mode, coin, balances, open, offsets);
        if (found.differences.length === 0) {
          deltas.push(...found.deltas);
          continue;
        }
        // Seen without the coin's lock: an open or close of it may be half-way. Look again under it.
        const settled = await this.locks.withLock(coinLock(coin), () => this.settleCoin(mode, coin, act, accepted));
        if (settled.delta) deltas.push(settled.delta);
        differences.push(...settled.differences);
      }
    }
    await this.reportDifferences(halt, [...modes], differences);
    return { deltas, differences };
  }

  /** One coin under its lock, from a fresh read: a hedge whose legs drifted apart is closed; what still differs is returned. */
  private async settleCoin(mode: TradingMode, coin: string, act: boolean, accepted: Record<string, HoldingOffsets>): Promise<{ delta: DeltaStatus | null; differences: HoldingDifference[] }> {
    const executor = this.executor(mode);
    let unfinished = await this.deps.store.listUnfinishedOperations();
    if (busyCoins(unfinished, this.deps.clock.nowMs()).has(coin)) return { delta: null, differences: [] };
    // An older unfinished operation of the coin is finished first; while one stays unfinished,
    // nothing is closed over it (its orders may still be counted), only reported.
    const stuck = (): Operation[] => unfinished.filter((o) => o.coin === coin && o.kind !== 'mode' && isUnderway(o));
    for (const o of stuck()) await this.finishUnfinished(o);
    unfinished = await this.deps.store.listUnfinishedOperations();
    const positions = await this.deps.store.listPositions();
    const open = positions.filter((p) => p.status === 'open' && p.mode === mode);
    const offsets = this.offsetsOf(positions, mode, accepted);
    const found = this.compareCoin(mode, coin, await executor.balances(), open, offsets);
    const position = open.find((p) => p.coin === coin);
    if (!act || !position || !found.delta || found.delta.withinTolerance || stuck().length > 0) return found;
    const { delta } = found;
    const system: Requester = { userId: 'system', name: 'delta-check', chatId: 'system' };
    const op: Operation = { ...this.newOperation('close', coin, system, { positionId: position.id }), mode };
    advanceOperation(op, 'confirmed', `drift ${delta.driftBps.toFixed(1)} bps beyond ${delta.toleranceBps.toString()} bps`, this.deps.clock.nowMs());
    await this.deps.store.putOperation(op);
    let action: string;
    try {
      await this.manager.closeConfirmed(op, { spotQty: delta.spotQty, perpQty: delta.perpQty });
      action = `both legs closed (spot ${delta.spotQty.toString()}, perp ${delta.perpQty.toString()})`;
    } catch (err) {
      action = `emergency close failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.events.emit({ type: 'drift', critical: true, operation: op, delta, action });
    const after = await this.deps.store.listPositions();
    const stillOpen = after.filter((p) => p.status === 'open' && p.mode === mode);
    return { delta, differences: this.compareCoin(mode, coin, await executor.balances(), stillOpen, this.offsetsOf(after, mode, accepted)).differences };
  }

  /**
   * A coin's legs against the records. The hedge's delta compares what each leg holds up to what
   * the hedge booked (beyond that is the records' business, not the hedge's balance).
   */
  private compareCoin(
    mode: TradingMode,
    coin: string,
    balances: Balances,
    open: readonly Position[],
    offsets: HoldingOffsets,
  ): { delta: DeltaStatus | null; deltas: DeltaStatus[]; differences: HoldingDifference[] } {
    const pair = this.instruments.has(coin) ? this.instruments.pair(coin) : null;
    const differences = compareHoldingsOfCoin({
      mode,
      coin,
      balances,
      open,
      offsets,
      validator: this.validator,
      qtyStep: (leg) => (pair ? (leg === 'spot' ? pair.spot.qtyStep : pair.perp.qtyStep) : ZERO),
    });
    const covered = (leg: 'spot' | 'perp', booked: Decimal): Decimal =>
      Decimal.max(ZERO, Decimal.min(heldQty(balances, coin, leg).minus(offsets[coin]?.[leg] ?? ZERO), booked));
    // One hedge per coin in trading; each stored hedge of the coin gets its delta all the same.
    const deltas = open.filter((p) => p.coin === coin).map((p) => this.validator.check(coin, covered('spot', p.spotLeg.qty), covered('perp', p.perpLeg.qty)));
    return { delta: deltas[0] ?? null, deltas, differences };
  }

  /** What the records hold of each coin outside its hedges: closes' spot dust, and what an admin accepted. */
  private offsetsOf(positions: readonly Position[], mode: TradingMode, accepted: Record<string, HoldingOffsets>): HoldingOffsets {
    let offsets: HoldingOffsets = accepted[mode] ?? {};
    for (const p of positions) {
      if (p.mode === mode && p.status === 'closed' && p.spotDustQty?.gt(0)) offsets = addOffset(offsets, p.coin, 'spot', p.spotDustQty);
    }
    return offsets;
  }

  private async acceptedOffsets(): Promise<Record<string, HoldingOffsets>> {
    return (await this.deps.store.getValue<Record<string, HoldingOffsets>>(ACCEPTED_KEY)) ?? {};
  }

  /**
   * Alerts each difference once (a changed quantity is a new one), keeps the current ones as the
   * halt of their coins, and says when a coin matches again.
   */
  private async reportDifferences(previous: HaltRecord, modes: readonly TradingMode[], found: readonly HoldingDifference[]): Promise<void> {
    const checked = new Set(modes);
    const kept = previous.differences.filter((d) => !checked.has(d.mode));
    const current = [...kept, ...found];
    const alerted = new Set(previous.differences.map(differenceKey));
    const fresh = found.filter((d) => !alerted.has(differenceKey(d)));
    const resolved = previous.differences.filter((d) => checked.has(d.mode) && !found.some((f) => f.mode === d.mode && f.coin === d.coin && f.leg === d.leg));
    const unchanged = fresh.length === 0 && resolved.length === 0 && current.length === previous.differences.length;
    if (!unchanged) await this.deps.store.putValue(HALT_KEY, { atMs: this.deps.clock.nowMs(), differences: current } satisfies HaltRecord);
    if (fresh.length > 0) this.events.emit({ type: 'reconcile', critical: true, differences: fresh });
    const clearedCoins = [...new Set(resolved.map((d) => d.coin))].filter((coin) => !current.some((d) => d.coin === coin));
    if (clearedCoins.length > 0) this.events.emit({ type: 'reconciled', critical: false, coins: clearedCoins });
  }

  private async readHalt(): Promise<HaltRecord> {
    const stored = await this.deps.store.getValue<Partial<HaltRecord>>(HALT_KEY);
    return { atMs: stored?.atMs ?? 0, differences: stored?.differences ?? [] };
  }

  /** Why new opens are halted, or null when none is. */
  async haltReason(): Promise<string | null> {
    const { differences } = await this.readHalt();
    if (differences.length === 0) return null;
    return differences.map((d) => `${d.coin} ${d.leg} (${d.mode}) holds ${d.heldQty.toString()}, the records ${d.recordedQty.toString()}`).join('; ');
  }

  /**
   * An admin has checked the venue and accepts what it holds: each difference becomes a known
   * holding outside the hedges (for example coins the account held before), and opens go on.
   */
  async resumeTrading(by: Requester): Promise<HoldingDifference[]> {
    const halted = await this.haltReason();
    if (!halted) return [];
    const accepted = await this.locks.withLock(ACCEPTED_LOCK, async () => {
      const { differences } = await this.readHalt();
      const offsets = await this.acceptedOffsets();
      for (const d of differences) offsets[d.mode] = addOffset(offsets[d.mode] ?? {}, d.coin, d.leg, d.differenceQty);
      await this.deps.store.putValue(ACCEPTED_KEY, offsets);
      await this.deps.store.putValue(HALT_KEY, { atMs: this.deps.clock.nowMs(), differences: [] } satisfies HaltRecord);
      return differences;
    });
    await this.audit(by, 'resume trading', `accepted as held outside the hedges: ${halted.slice(0, 300)}`);
    return accepted;
  }

  /** The engine's time (the injected clock), for anything that compares with its stamps. */
  nowMs(): number {
    return this.deps.clock.nowMs();
  }

  /** Stamps a scheduled job's run, for the watchdog. */
  async markJobRun(key: string): Promise<void> {
    await this.deps.store.putValue(key, this.deps.clock.nowMs());
  }

  async jobLastRun(key: string): Promise<number | null> {
    return this.deps.store.getValue<number>(key);
  }

  /** Small shared values for the chat front (mutes, update dedupe), kept in the store. */
  async putSetting(key: string, value: unknown, ttlMs?: number): Promise<void> {
    await this.deps.store.putValue(`setting:${key}`, value, ttlMs);
  }

  async getSetting<T>(key: string): Promise<T | null> {
    return this.deps.store.getValue<T>(`setting:${key}`);
  }

  /** True the first time `key` is claimed within `ttlMs` (duplicate updates, double taps). */
  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.deps.store.claimOnce(key, ttlMs);
  }

  async audit(by: Requester, action: string, outcome: string): Promise<void> {
    const entry: AuditEntry = { atMs: this.deps.clock.nowMs(), userId: by.userId, name: by.name, chatId: by.chatId, action, outcome };
    await this.deps.store.appendAudit(entry);
  }

  async recentAudit(limit: number): Promise<AuditEntry[]> {
    return this.deps.store.recentAudit(limit);
  }

  /** Waits for every operation in flight (used at shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const done = (): void => {
      this.inFlight.delete(work);
    };
    work.then(done, done);
    return work;
  }

  /**
   * Sizes an open in `mode` after the halt and risk checks. Their reads go out together, with the
   * paper balances among them (a ledger read), so a paper open needs no second round trip once
   * the mode is known; a live open then asks the venue. Opens confirmed and not yet booked (other
   * than `selfId`) count against the limits and the balances as if they were open already.
   */
  private async quoteOpen(
    pair: HedgePair,
    notionalUsd: Decimal,
    mode: TradingMode | Promise<TradingMode>,
    prices: Promise<void> = Promise.resolve(),
    selfId?: string,
  ): Promise<{ spotPrice: Decimal; perpPrice: Decimal; qty: Decimal }> {
    const paper = this.executors.paper;
    // Unfinished operations before open positions: an open that finishes between the two reads is
    // then counted twice (refused, safe), never missed.
    const unfinishedRead = this.deps.store.listUnfinishedOperations();
    const [modeNow, unfinished, open, halt, paperBalances] = await Promise.all([
      mode,
      unfinishedRead,
      unfinishedRead.then(() => this.deps.store.listOpenPositions()),
      this.readHalt(),
      paper ? paper.balances() : null,
      prices,
    ]);
    const balances = modeNow === 'paper' && paperBalances ? paperBalances : await this.executor(modeNow).balances();
    const halted = halt.differences.filter((d) => d.coin === pair.coin);
    if (halted.length > 0) throw haltedError(pair.coin, halted);
    const reserved = unfinished
      .filter((o) => o.id !== selfId && o.kind === 'open' && isUnderway(o))
      .filter((o) => !open.some((p) => p.openOperationId === o.id))
      .map((o) => ({ coin: o.coin, notionalUsd: o.notionalUsd ?? ZERO }));
    this.risk.checkOpen({ pair, notionalUsd, openPositions: open, reserved, balances });
    const spotPrice = this.tickers.get(pair.spot.symbol).last;
    const perpPrice = this.tickers.get(pair.perp.symbol).last;
    const qty = this.sizer.size(pair, notionalUsd, spotPrice, perpPrice);
    return { spotPrice, perpPrice, qty };
  }

  private legQuote(pair: HedgePair, kind: LegKind, side: Side, qty: Decimal, reference: Decimal): LegQuote {
    const instrument = kind === 'spot' ? pair.spot : pair.perp;
    const price = takerPrice(reference, side, PAPER_SLIPPAGE_BPS);
    return { kind, symbol: instrument.symbol, side, qty, price, notionalUsd: qty.mul(price), feeUsd: this.fees.takerFeeUsd(instrument, qty, price) };
  }

  private quoteMovedBps(pair: HedgePair, spotQuoted: Decimal, perpQuoted: Decimal): Decimal {
    const move = (now: Decimal, then: Decimal): Decimal => now.minus(then).abs().div(then).mul(BPS);
    return Decimal.max(move(this.tickers.get(pair.spot.symbol).last, spotQuoted), move(this.tickers.get(pair.perp.symbol).last, perpQuoted));
  }

  private positionView(
    position: Position,
    funding: ReadonlyMap<string, Decimal>,
    checked: FundingCheckRecord | undefined,
    venueLiquidations: ReadonlyMap<string, Decimal> | undefined,
  ): PositionView {
    const spotMark = this.tickers.lastOrNull(position.spotLeg.symbol);
    const perpMark = this.tickers.lastOrNull(position.perpLeg.symbol);
    const entryFees = position.spotLeg.entryFeeUsd.plus(position.perpLeg.entryFeeUsd);
    const unrealisedPnlUsd =
      spotMark && perpMark
        ? spotMark.minus(position.spotLeg.entryPrice).mul(position.spotLeg.qty).plus(position.perpLeg.entryPrice.minus(perpMark).mul(position.perpLeg.qty)).minus(entryFees)
        : null;
    const { price: liquidationPrice, source: liquidationSource } = this.liquidation(position, venueLiquidations);
    return {
      position,
      spotMark,
      perpMark,
      delta: this.validator.check(position.coin, position.spotLeg.qty, position.perpLeg.qty),
      fundingEarnedUsd: funding.get(position.id) ?? ZERO,
      unrealisedPnlUsd,
      liquidationPrice,
      liquidationSource,
      liquidationDistancePct: perpMark ? liquidationPrice.minus(perpMark).div(perpMark).mul(100) : null,
      // sinceMs only when the check compared a window shorter than the hedge's life.
      venueFunding: checked ? { paidUsd: checked.venueUsd, throughMs: checked.toMs, sinceMs: checked.fromMs > position.openedAtMs ? checked.fromMs : null } : null,
    };
  }

  /**
   * The short's liquidation price: the venue's own figure when it reports one (live), otherwise an
   * estimate. A short with margin = notional / leverage is liquidated when its loss eats the
   * margin down to the maintenance margin: entry × (1 + 1/leverage − maintenance rate), which
   * holds for isolated margin; cross margin on a larger account sits further away. Callers that
   * price many hedges pass liquidationFactor() in once.
   */
  private liquidation(
    position: Position,
    venuePrices: ReadonlyMap<string, Decimal> | undefined,
    factor?: Decimal,
  ): { price: Decimal; source: LiquidationSource } {
    const venuePrice = venuePrices?.get(perpAsset(position.coin));
    if (venuePrice) return { price: venuePrice, source: 'venue' };
    return { price: position.perpLeg.entryPrice.mul(factor ?? this.liquidationFactor()), source: 'estimate' };
  }

  private liquidationFactor(): Decimal {
    return new Decimal(1).div(this.deps.config.limits.perpLeverage).plus(1).minus(this.deps.config.maintenanceMarginRate);
  }

  /**
   * Alerts once per position when its short's liquidation comes closer than the configured
   * distance, and again only after it moved away; one read and at most one write per check.
   */
  private async checkLiquidations(open: readonly Position[], venuePrices: ReadonlyMap<string, Decimal> | undefined): Promise<void> {
    const alerted = new Set((await this.deps.store.getValue<string[]>(LIQUIDATION_KEY)) ?? []);
    const near = new Set<string>();
    const factor = this.liquidationFactor();
    const alertAt = this.deps.config.liquidationAlertPct.div(100).plus(1);
    for (const position of open) {
      const mark = this.tickers.lastOrNull(position.perpLeg.symbol);
      if (!mark) continue;
      const { price: liquidationPrice, source } = this.liquidation(position, venuePrices, factor);
      // Near when liquidation is below mark × (1 + alert %); the division only for those.
      if (liquidationPrice.gte(mark.mul(alertAt))) continue;
      const distancePct = liquidationPrice.minus(mark).div(mark).mul(100);
      near.add(position.id);
      if (!alerted.has(position.id)) {
        this.events.emit({ type: 'liquidation', critical: true, position, liquidationPrice, source, distancePct });
      }
    }
    if (near.size !== alerted.size || [...near].some((id) => !alerted.has(id))) await this.deps.store.putValue(LIQUIDATION_KEY, [...near]);
  }

  private async fundingEarned(positionId: string): Promise<Decimal> {
    return (await this.ledger.fundingByPosition()).get(positionId) ?? ZERO;
  }

  private async fundingFor(coin: string): Promise<FundingOpportunity | null> {
    return (await this.topFunding(Number.MAX_SAFE_INTEGER)).find((r) => r.coin === coin) ?? null;
  }

  private async findOpenPosition(target: string): Promise<Position> {
    const open = await this.deps.store.listOpenPositions();
    const wanted = target.trim();
    const found = open.find((p) => p.id === wanted) ?? open.find((p) => p.coin === wanted.toUpperCase());
    if (found) return found;
    const list = open.length > 0 ? `open hedges: ${open.map((p) => `${p.coin} (${p.id})`).join(', ')}` : 'there are no open hedges';
    throw new NotFoundError(`no open hedge matches "${wanted}"; ${list}`);
  }

  private pairOf(coinText: string): HedgePair {
    const coin = coinText.trim().toUpperCase();
    if (!/^[A-Z0-9]{1,15}$/.test(coin)) {
      throw new InvalidInputError(`"${coinText.slice(0, 20)}" is not a coin symbol; use a ticker such as BTC or ETH`);
    }
    return this.instruments.pair(coin);
  }

  private executor(mode: TradingMode): Executor {
    const executor = this.executors[mode];
    if (!executor) throw new ModeChangeError('live trading is not configured');
    return executor;
  }

  private newOperation(kind: Operation['kind'], coin: string, by: Requester, extra: Partial<Operation>): Operation {
    const now = this.deps.clock.nowMs();
    return {
      id: newOperationId(now),
      kind,
      coin,
      mode: this.mode,
      modeEpoch: this.modeEpoch,
      requestedBy: by,
      state: 'requested',
      steps: [{ atMs: now, state: 'requested', note: `requested by ${by.name}` }],
      createdAtMs: now,
      updatedAtMs: now,
      ...extra,
    };
  }

  /** Stores a previewed operation and remembers its lock, which its confirm then takes without a read. */
  private async putPreview(operation: Operation): Promise<void> {
    await this.deps.store.putOperation(operation);
    this.previewLocks.set(operation.id, lockOf(operation));
    if (this.previewLocks.size > REMEMBERED_PREVIEWS) {
      const oldest = this.previewLocks.keys().next();
      if (!oldest.done) this.previewLocks.delete(oldest.value);
    }
  }

  private async finish(op: Operation, state: OperationState, note: string, errorCode?: string): Promise<void> {
    await this.book.advance(op, state, note, errorCode ? { errorCode } : {});
  }

  private async requireOperation(operationId: string): Promise<Operation> {
    const op = await this.deps.store.getOperation(operationId);
    if (!op) throw new NotFoundError(`no operation ${operationId}`);
    return op;
  }

  private alreadyHandled(op: Operation): string {
    const why = op.errorMessage && (op.state === 'expired' || op.state === 'failed') ? `: ${op.errorMessage}` : '';
    if (FINISHED_STATES.has(op.state)) return `operation ${op.id} (${op.kind} ${op.coin}) is already ${op.state.replace('_', ' ')}${why}`;
    return `operation ${op.id} (${op.kind} ${op.coin}) is already ${op.state}; it runs once`;
  }

  private assertReady(): void {
    if (!this.ready) throw new BotError('NOT_READY', 'the engine is still reconciling unfinished operations; try again in a moment', 'retry');
  }
}

function haltedError(coin: string, differences: readonly HoldingDifference[]): RiskLimitError {
  const legs = differences.map((d) => `${d.leg} holds ${d.heldQty.toString()}, the records ${d.recordedQty.toString()}`).join('; ');
  return new RiskLimitError('TRADING_HALTED', `new opens of ${coin} wait until the venue matches the records or an admin checks it and sends /resume (${legs})`);
}

/**
 * How long an unfinished operation keeps surveillance off its coin. Past it (the venue still has not
 * answered), what the coin holds beyond the records is alerted like any other difference.
 */
const UNFINISHED_GRACE_MS = 120_000;
/** How often an operation that stays unfinished is alerted again. */
const UNFINISHED_REMINDER_MS = 10 * 60_000;

/** Coins with an operation confirmed, not finished and recently moved: their holdings are in the middle of changing. */
function busyCoins(unfinished: readonly Operation[], nowMs: number): Set<string> {
  const busy = unfinished.filter((o) => o.kind !== 'mode' && isUnderway(o) && nowMs - o.updatedAtMs < UNFINISHED_GRACE_MS);
  return new Set(busy.map((o) => o.coin));
}

function notFlat(mode: TradingMode, openPositions: number, busyOperations: number): ModeChangeError {
  return new ModeChangeError(`not flat: ${openPositions} open hedge(s) and ${busyOperations} operation(s) in progress; close them before switching to ${mode}`);
}

/** Previews whose lock is remembered; a confirm of an older one reads the operation first. */
const REMEMBERED_PREVIEWS = 1_000;

/** The lock an operation's confirm runs under: its coin's, or the one mode-change lock. */
function lockOf(op: Operation): string {
  return op.kind === 'mode' ? MODE_LOCK : coinLock(op.coin);
}
