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
import { advanceOperation } from './domain/operation.js';
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
import { InProcessLocks, coinLock, type Locks } from './position/locks.js';
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
  positions: PositionView[];
  unfinishedOperations: number;
  /** Set when a reconciliation mismatch halted new opens. */
  haltReason: string | null;
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
  private mode: TradingMode;
  private ready = false;

  private constructor(
    private readonly deps: EngineDeps,
    private readonly instruments: InstrumentInfo,
  ) {
    const { config, clock, store, logger } = deps;
    const locks = deps.locks ?? new InProcessLocks();
    this.ledger = new LedgerView(store);
    this.locks = locks;
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
    const stored = await this.deps.store.getMode();
    if (stored && (stored === 'paper' || this.executors.live)) this.mode = stored;
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
   * moved beyond the tolerance, and one that was already confirmed or cancelled.
   */
  async confirm(operationId: string, by: Requester): Promise<{ operation: Operation; position: Position | null }> {
    this.assertReady();
    const lock = this.previewLocks.get(operationId) ?? lockOf(await this.requireOperation(operationId));
    if (lock === MODE_LOCK) return { operation: await this.locks.withLock(MODE_LOCK, () => this.applyMode(operationId, by)), position: null };
    // Check, confirm and place under one hold of the coin's lock: a double tap confirms exactly
    // once, and nothing can slip in between the last check and the orders.
    return this.track(
      this.locks.withLock(lock, async () => {
        const op = await this.markConfirmed(operationId, by);
        const place = op.kind === 'open' ? this.manager.openConfirmed(op) : this.manager.closeConfirmed(op);
        // The audit line goes out beside the first write of the placement.
        const [, position] = await Promise.all([this.audit(by, `confirm ${op.kind} ${op.coin}`, `operation ${op.id}`), place]);
        // The manager advanced `op` in place through every stored step.
        return { operation: op, position };
      }),
    );
  }

  /**
   * Checks a previewed operation under its coin's lock and marks it confirmed in memory only:
   * the placement stores the confirmation together with its own first step. A refusal is stored
   * at once (expired, moved, halted, over a limit).
   */
  private async markConfirmed(operationId: string, by: Requester): Promise<Operation> {
    const op = await this.requireOperation(operationId);
    if (op.state !== 'requested') throw new OperationStateError(this.alreadyHandled(op));
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
    if (op.kind === 'open') {
      try {
        await this.quoteOpen(pair, op.notionalUsd ?? ZERO, op.mode);
      } catch (err) {
        await this.finish(op, 'failed', err instanceof Error ? err.message : String(err), err instanceof BotError ? err.code : 'INTERNAL');
        throw err;
      }
    }
    return advanceOperation(op, 'confirmed', `confirmed by ${by.name}`, this.deps.clock.nowMs());
  }

  async cancel(operationId: string, by: Requester): Promise<Operation> {
    const op = await this.requireOperation(operationId);
    if (op.state !== 'requested') throw new OperationStateError(this.alreadyHandled(op));
    await this.finish(op, 'cancelled', `cancelled by ${by.name}`);
    await this.audit(by, `cancel ${op.kind} ${op.coin}`, `operation ${op.id}`);
    return op;
  }

  async getOperation(operationId: string): Promise<Operation | null> {
    return this.deps.store.getOperation(operationId);
  }

  async status(): Promise<StatusReport> {
    await this.currentMode();
    const balances = await this.executor(this.mode).balances();
    const open = (await this.deps.store.listOpenPositions()).filter((p) => p.mode === this.mode);
    const [funding, checked] = await Promise.all([this.ledger.fundingByPosition(), this.fundingCheck.records()]);
    const positions = open.map((p) => this.positionView(p, funding, checked[p.id], balances.liquidationPrices));
    return {
      mode: this.mode,
      liveConfigured: this.liveConfigured(),
      spotUsdt: balances.spot.get(QUOTE_ASSET) ?? ZERO,
      perpUsdt: balances.perp.get(QUOTE_ASSET) ?? ZERO,
      perpEquityUsd: this.risk.perpEquityUsd(balances, open),
      sharedQuote: balances.sharedQuote === true,
      totalExposureUsd: this.risk.totalExposureUsd(open),
      positions,
      unfinishedOperations: (await this.deps.store.listUnfinishedOperations()).length,
      haltReason: await this.haltReason(),
    };
  }

  /** PnL of every hedge of the current mode: realised, funding, fees, unrealised; with totals. */
  async pnl(): Promise<PnlReport> {
    await this.currentMode();
    const positions = (await this.deps.store.listPositions()).filter((p) => p.mode === this.mode);
    const funding = await this.ledger.fundingByPosition();
    const rows: PnlRow[] = [];
    for (const position of positions) {
      const entryFees = position.spotLeg.entryFeeUsd.plus(position.perpLeg.entryFeeUsd);
      const feesUsd = entryFees.plus(position.exitFeesUsd ?? ZERO);
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
      mode: this.mode,
      rows,
      realisedUsd,
      fundingUsd,
      feesUsd: sum((r) => r.feesUsd),
      unrealisedUsd,
      totalUsd: realisedUsd.plus(fundingUsd).plus(unrealisedUsd),
      unrealisedComplete: rows.every((r) => r.unrealisedUsd !== null),
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
      await this.setMode(target, by);
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
    if (open.length > 0 || pending.length > 0) {
      throw new ModeChangeError(
        `not flat: ${open.length} open hedge(s) and ${pending.length} operation(s) in progress; close them before switching to ${mode}`,
      );
    }
  }

  /** Switches paper ↔ live: only when flat and live trading is configured. */
  async setMode(mode: TradingMode, by: Requester): Promise<TradingMode> {
    this.assertReady();
    await this.checkModeChange(mode);
    await this.deps.store.setMode(mode);
    await this.audit(by, `mode ${this.mode} → ${mode}`, 'switched');
    this.mode = mode;
    return mode;
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
   * Compares each open hedge with what the account actually holds; drift beyond tolerance closes
   * both legs through a system operation and raises a drift alert.
   */
  async checkDeltas(): Promise<DeltaStatus[]> {
    this.assertReady();
    // Orders given up as unknown that filled since are undone before the legs are compared.
    await Promise.all([this.manager.sweepLateFills(), this.currentMode()]);
    const balances = await this.executor(this.mode).balances();
    const results: DeltaStatus[] = [];
    const open = (await this.deps.store.listOpenPositions()).filter((p) => p.mode === this.mode);
    await this.checkLiquidations(open, balances.liquidationPrices);
    for (const position of open) {
      // What the account holds, capped at what the hedge booked (the account may hold more).
      const spotHeld = Decimal.max(ZERO, Decimal.min(balances.spot.get(position.coin) ?? ZERO, position.spotLeg.qty));
      const perpHeld = Decimal.max(ZERO, Decimal.min((balances.perp.get(perpAsset(position.coin)) ?? ZERO).neg(), position.perpLeg.qty));
      const delta = this.validator.check(position.coin, spotHeld, perpHeld);
      results.push(delta);
      if (delta.withinTolerance) continue;
      const system: Requester = { userId: 'system', name: 'delta-check', chatId: 'system' };
      const op = this.newOperation('close', position.coin, system, { positionId: position.id });
      await this.finish(op, 'confirmed', `drift ${delta.driftBps.toFixed(1)} bps beyond ${delta.toleranceBps.toString()} bps`);
      let action: string;
      try {
        await this.track(this.manager.close(op.id, { spotQty: spotHeld, perpQty: perpHeld }));
        action = `both legs closed (spot ${spotHeld.toString()}, perp ${perpHeld.toString()})`;
      } catch (err) {
        action = `emergency close failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      this.events.emit({ type: 'drift', critical: true, operation: op, delta, action });
    }
    return results;
  }

  /**
   * Compares the stored hedges of the current mode with what the venue holds. A mismatch is
   * alerted and halts new opens until an admin resumes trading; closes stay allowed.
   */
  async reconcile(): Promise<string[]> {
    const mode = await this.currentMode();
    const balances = await this.executor(mode).balances();
    const open = (await this.deps.store.listOpenPositions()).filter((p) => p.mode === mode);
    const mismatches: string[] = [];
    for (const position of open) {
      const spotHeld = balances.spot.get(position.coin) ?? ZERO;
      const perpHeld = (balances.perp.get(perpAsset(position.coin)) ?? ZERO).neg();
      // The spot wallet may hold more of the coin than the hedge; it must not hold less.
      const spotShort = this.validator.check(position.coin, Decimal.min(spotHeld, position.spotLeg.qty), position.spotLeg.qty);
      const perpOff = this.validator.check(position.coin, perpHeld, position.perpLeg.qty);
      if (!spotShort.withinTolerance) mismatches.push(`${position.coin} ${position.id}: spot holds ${spotHeld.toString()}, the hedge booked ${position.spotLeg.qty.toString()}`);
      if (!perpOff.withinTolerance) mismatches.push(`${position.coin} ${position.id}: perp short is ${perpHeld.toString()}, the hedge booked ${position.perpLeg.qty.toString()}`);
    }
    const hedged = new Set(open.map((p) => perpAsset(p.coin)));
    for (const [asset, qty] of balances.perp) {
      if (asset.endsWith('-PERP') && !qty.isZero() && !hedged.has(asset)) mismatches.push(`${asset}: the venue shows ${qty.toString()} with no hedge on record`);
    }
    if (mismatches.length > 0) {
      await this.deps.store.putValue(HALT_KEY, { atMs: this.deps.clock.nowMs(), mismatches });
      this.events.emit({ type: 'reconcile', critical: true, mismatches });
    }
    return mismatches;
  }

  /** Why new opens are halted, or null when trading is active. */
  async haltReason(): Promise<string | null> {
    const halt = await this.deps.store.getValue<{ mismatches: string[] }>(HALT_KEY);
    return halt ? halt.mismatches.join('; ') : null;
  }

  /** An admin acknowledges a reconciliation mismatch; new opens are accepted again. */
  async resumeTrading(by: Requester): Promise<boolean> {
    const halted = await this.haltReason();
    if (!halted) return false;
    await this.deps.store.putValue(HALT_KEY, null);
    await this.audit(by, 'resume trading', `acknowledged: ${halted.slice(0, 200)}`);
    return true;
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
   * the mode is known; a live open then asks the venue.
   */
  private async quoteOpen(
    pair: HedgePair,
    notionalUsd: Decimal,
    mode: TradingMode | Promise<TradingMode>,
    prices: Promise<void> = Promise.resolve(),
  ): Promise<{ spotPrice: Decimal; perpPrice: Decimal; qty: Decimal }> {
    const paper = this.executors.paper;
    const [modeNow, open, halted, paperBalances] = await Promise.all([
      mode,
      this.deps.store.listOpenPositions(),
      this.haltReason(),
      paper ? paper.balances() : null,
      prices,
    ]);
    const balances = modeNow === 'paper' && paperBalances ? paperBalances : await this.executor(modeNow).balances();
    if (halted) throw haltedError(halted);
    this.risk.checkOpen({ pair, notionalUsd, openPositions: open, balances });
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
    await this.deps.store.putOperation(advanceOperation(op, state, note, this.deps.clock.nowMs(), errorCode));
  }

  private async requireOperation(operationId: string): Promise<Operation> {
    const op = await this.deps.store.getOperation(operationId);
    if (!op) throw new NotFoundError(`no operation ${operationId}`);
    return op;
  }

  private alreadyHandled(op: Operation): string {
    if (FINISHED_STATES.has(op.state)) return `operation ${op.id} (${op.kind} ${op.coin}) is already ${op.state.replace('_', ' ')}`;
    return `operation ${op.id} (${op.kind} ${op.coin}) is already ${op.state}; it runs once`;
  }

  private assertReady(): void {
    if (!this.ready) throw new BotError('NOT_READY', 'the engine is still reconciling unfinished operations; try again in a moment', 'retry');
  }
}

function haltedError(reason: string): RiskLimitError {
  return new RiskLimitError('TRADING_HALTED', `new opens are halted until an admin checks the venue and sends /resume: ${reason}`);
}

const MODE_LOCK = 'mode';
/** Previews whose lock is remembered; a confirm of an older one reads the operation first. */
const REMEMBERED_PREVIEWS = 1_000;

/** The lock an operation's confirm runs under: its coin's, or the one mode-change lock. */
function lockOf(op: Operation): string {
  return op.kind === 'mode' ? MODE_LOCK : coinLock(op.coin);
}
