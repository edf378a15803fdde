import { LedgerView } from '../../src/engine/execution/ledgerView.js';
import { pino } from 'pino';
import { ManualClock } from '../../src/engine/domain/clock.js';
import { Decimal, ZERO } from '../../src/engine/domain/decimal.js';
import {
  QUOTE_ASSET,
  type Coin,
  type LedgerEntry,
  type Operation,
  type OperationKind,
  type OperationState,
  type OrderRequest,
  type OrderResult,
  type Position,
  type TradingMode,
} from '../../src/engine/domain/types.js';
import { type EngineEvent, EventBus } from '../../src/engine/events.js';
import { FaultPlan } from '../../src/engine/exchange/faults.js';
import { SimulatedExchange } from '../../src/engine/exchange/simulatedExchange.js';
import { LiveExecutor } from '../../src/engine/execution/liveExecutor.js';
import { PaperExecutor } from '../../src/engine/execution/paperExecutor.js';
import type { Balances, Executor } from '../../src/engine/execution/port.js';
import { InstrumentInfo } from '../../src/engine/market/instrumentInfo.js';
import { TickerService } from '../../src/engine/market/tickerService.js';
import { DeltaValidator } from '../../src/engine/position/deltaValidator.js';
import { InProcessLocks } from '../../src/engine/position/locks.js';
import { PositionManager } from '../../src/engine/position/positionManager.js';
import { MemoryStore } from '../../src/engine/store/memoryStore.js';

export const silentLogger = pino({ level: 'silent' });

/** Lets every pending continuation run (all engine work between clock moves is promise chains). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Tracks a promise without awaiting it, so a test can ask whether it has settled yet. */
export function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { promise, settled: () => done };
}

export interface OrderLogEntry {
  clientOrderId: string;
  event: 'start' | 'end';
  atMs: number;
}

/** An executor wrapper that records when each order was sent and when its answer came back. */
export class RecordingExecutor implements Executor {
  readonly log: OrderLogEntry[] = [];

  constructor(
    private readonly inner: Executor,
    private readonly clock: ManualClock,
  ) {}

  get mode(): TradingMode {
    return this.inner.mode;
  }

  async execute(request: OrderRequest): Promise<OrderResult> {
    this.log.push({ clientOrderId: request.clientOrderId, event: 'start', atMs: this.clock.nowMs() });
    try {
      return await this.inner.execute(request);
    } finally {
      this.log.push({ clientOrderId: request.clientOrderId, event: 'end', atMs: this.clock.nowMs() });
    }
  }

  lookup(symbol: string, clientOrderId: string): Promise<OrderResult | null> {
    return this.inner.lookup(symbol, clientOrderId);
  }

  balances(): Promise<Balances> {
    return this.inner.balances();
  }

  started(): string[] {
    return this.log.filter((e) => e.event === 'start').map((e) => e.clientOrderId);
  }

  ended(): string[] {
    return this.log.filter((e) => e.event === 'end').map((e) => e.clientOrderId);
  }

  /** Orders sent and not answered yet. */
  inFlight(): string[] {
    const ended = new Set(this.ended());
    return this.started().filter((id) => !ended.has(id));
  }
}

export const START_USDT = new Decimal(100_000);

/** Ledger deposits giving a paper account the same start as the simulated venue's accounts. */
export function deposits(amountUsdt: Decimal, mode: TradingMode = 'paper'): LedgerEntry[] {
  return (['spot', 'perp'] as const).map((account) => ({
    id: `deposit:${account}`,
    atMs: 0,
    kind: 'deposit',
    account,
    asset: QUOTE_ASSET,
    amount: amountUsdt,
    ref: 'test',
    mode,
  }));
}

export function balanceOf(balances: Balances, account: 'spot' | 'perp', asset: string): Decimal {
  return balances[account].get(asset) ?? ZERO;
}

/** An open live hedge as the store keeps it, entered at 95,000 with a 0.5 USD fee per leg. */
export function livePosition(coin: string, spotQty: string, perpQty: string, openedAtMs: number): Position {
  const leg = (kind: 'spot' | 'perp', qty: string) => ({
    kind,
    symbol: kind === 'spot' ? `${coin}/USDT` : `${coin}/USDT:USDT`,
    side: kind === 'spot' ? ('buy' as const) : ('sell' as const),
    qty: new Decimal(qty),
    entryPrice: new Decimal(95_000),
    entryFeeUsd: new Decimal('0.5'),
  });
  return { id: `p${coin}1`, coin, mode: 'live', spotLeg: leg('spot', spotQty), perpLeg: leg('perp', perpQty), openedAtMs, openedBy: 'alice', openOperationId: 'op0', status: 'open', lastFundingMs: openedAtMs };
}

export function operation(args: {
  id: string;
  coin: Coin;
  qty?: Decimal;
  kind?: OperationKind;
  state?: OperationState;
  mode?: TradingMode;
  positionId?: string;
  nowMs: number;
}): Operation {
  const state = args.state ?? 'confirmed';
  const op: Operation = {
    id: args.id,
    kind: args.kind ?? 'open',
    coin: args.coin,
    mode: args.mode ?? 'paper',
    requestedBy: { userId: 'u1', name: 'Ann', chatId: 'c1', messageId: 'm1' },
    state,
    steps: [{ atMs: args.nowMs, state, note: 'test' }],
    createdAtMs: args.nowMs,
    updatedAtMs: args.nowMs,
  };
  if (args.qty) {
    op.quote = {
      spotPrice: ZERO,
      perpPrice: ZERO,
      qty: args.qty,
      quotedAtMs: args.nowMs,
      expiresAtMs: args.nowMs + 30_000,
    };
  }
  if (args.positionId) op.positionId = args.positionId;
  return op;
}

export interface HarnessOptions {
  mode?: TradingMode;
  faults?: string;
  /** Instead of `faults`: a plan the test can change while the engine runs. */
  faultPlan?: FaultPlan;
  legLatencyMs?: number;
  hedgeTimeoutMs?: number;
  toleranceBps?: Decimal;
  seed?: number;
  /** Wraps the executor, to give the venue a behaviour of its own (lost answers, failing lookups). */
  wrap?: (inner: Executor) => Executor;
}

/**
 * The engine's trading core wired over in-memory parts: a simulated venue driven by a manual
 * clock, a MemoryStore, and the executor of the chosen mode (wrapped to record order timing).
 * Both modes start with START_USDT in each account.
 */
export async function buildHarness(options: HarnessOptions = {}) {
  const mode = options.mode ?? 'paper';
  const clock = new ManualClock();
  const faults = options.faultPlan ?? FaultPlan.parse(options.faults);
  const legLatencyMs = options.legLatencyMs ?? 0;
  const exchange = new SimulatedExchange({
    clock,
    seed: options.seed ?? 7,
    faults: mode === 'live' ? faults : new FaultPlan(),
    legLatencyMs: mode === 'live' ? legLatencyMs : 0,
    startBalancesUsdt: START_USDT,
  });
  const store = new MemoryStore();
  const tickers = new TickerService(exchange, clock);
  const instruments = await InstrumentInfo.load(exchange);
  await tickers.refresh(instruments.allSymbols());
  const inner: Executor =
    mode === 'paper'
      ? new PaperExecutor({ store, tickers, instruments, clock, faults, legLatencyMs, ledger: new LedgerView(store) })
      : new LiveExecutor(exchange, store);
  if (mode === 'paper') await store.appendLedger(deposits(START_USDT));
  const executor = new RecordingExecutor(options.wrap ? options.wrap(inner) : inner, clock);
  const events: EngineEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  const hedgeTimeoutMs = options.hedgeTimeoutMs ?? 10_000;
  const manager = new PositionManager({
    store,
    executors: () => executor,
    instruments,
    validator: new DeltaValidator(options.toleranceBps ?? new Decimal(50)),
    locks: new InProcessLocks(),
    events: bus,
    clock,
    hedgeTimeoutMs,
    logger: silentLogger,
  });
  return { mode, clock, exchange, store, tickers, instruments, executor, events, manager, hedgeTimeoutMs };
}

export type Harness = Awaited<ReturnType<typeof buildHarness>>;
