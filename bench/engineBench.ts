import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Decimal, Engine, systemClock, type EngineConfig, type Requester, type TradingMode } from '../src/engine/index.js';
import { clientOrderId, newOperationId, newPositionId } from '../src/engine/domain/ids.js';
import type { OrderRequest, OrderResult, Position } from '../src/engine/domain/types.js';
import { simulateFill } from '../src/engine/exchange/simulatedFill.js';
import { SimulatedExchange } from '../src/engine/exchange/simulatedExchange.js';
import { fillLedgerEntries } from '../src/engine/execution/ledgerEntries.js';
import { PAPER_SLIPPAGE_BPS } from '../src/engine/execution/paperExecutor.js';
import type { Balances, Executor } from '../src/engine/execution/port.js';
import { InstrumentInfo } from '../src/engine/market/instrumentInfo.js';
import { InProcessLocks, type Locks } from '../src/engine/position/locks.js';
import { PositionSizer } from '../src/engine/position/positionSizer.js';
import { MemoryStore } from '../src/engine/store/memoryStore.js';
import type { Store } from '../src/engine/store/port.js';
import { RedisLocks } from '../src/engine/store/redisLocks.js';
import { RedisStore } from '../src/engine/store/redisStore.js';
import { testEngineConfig } from '../tests/support/engineHarness.js';
import { profileCpu, profileIterations, type ProfileSummary } from './profile.js';
import { collect, distribution, round, timeMs, type Distribution } from './stats.js';

const BENCH_USER: Requester = { userId: 'bench', name: 'bench', chatId: 'bench' };
const NOTIONAL_USD = new Decimal(1_000);

/**
 * The engine settings the tests keep complete, which are the app's defaults (at most 10 open
 * hedges, 100,000 USD exposure); `manyHedges` raises the limits and the paper account for hundreds.
 */
export function benchEngineConfig(legLatencyMs: number, manyHedges = false): EngineConfig {
  if (!manyHedges) return testEngineConfig({ paperLegLatencyMs: legLatencyMs });
  return testEngineConfig({
    limits: { maxPositionNotionalUsd: new Decimal(25_000), maxTotalExposureUsd: new Decimal(1_000_000_000), maxOpenPositions: 10_000, perpLeverage: new Decimal(1) },
    paperStartUsdt: new Decimal(100_000_000),
    paperLegLatencyMs: legLatencyMs,
  });
}

export const freshPrefix = (tag: string): string => `bench${tag}${randomBytes(3).toString('hex')}:`;

interface BenchEngine {
  engine: Engine;
  exchange: SimulatedExchange;
  store: Store;
  close(): Promise<void>;
}

/**
 * An engine composed as src/app.ts composes it (RedisStore, RedisLocks, simulated market, paper
 * executor), on its own key prefix; with `memory`, on MemoryStore and in-process locks instead.
 */
async function startEngine(options: { redisUrl: string; legLatencyMs: number; memory?: boolean; manyHedges?: boolean }): Promise<BenchEngine> {
  const prefix = freshPrefix('e');
  let store: Store;
  let locks: Locks;
  let closeLocks = async (): Promise<void> => undefined;
  if (options.memory) {
    store = new MemoryStore();
    locks = new InProcessLocks();
  } else {
    store = await RedisStore.connect(options.redisUrl, prefix);
    const redisLocks = RedisLocks.connect(options.redisUrl, prefix);
    locks = redisLocks.locks;
    closeLocks = redisLocks.close;
  }
  const exchange = new SimulatedExchange({ clock: systemClock, seed: 42 });
  const engine = await Engine.create({
    config: benchEngineConfig(options.legLatencyMs, options.manyHedges),
    clock: systemClock,
    store,
    exchange,
    logger: pino({ level: 'silent' }),
    locks,
  });
  await engine.start();
  // The funding-scan job keeps this cached in the app; a preview reads it.
  await engine.scanFunding();
  return {
    engine,
    exchange,
    store,
    async close() {
      await closeLocks();
      await store.close();
    },
  };
}

/**
 * The baseline for the concurrent open: the engine's own paper executor, but each order waits
 * until the one before it is answered, as a bot placing the legs one after the other would.
 */
class OneLegAtATime implements Executor {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly inner: Executor) {}

  get mode(): TradingMode {
    return this.inner.mode;
  }

  execute(request: OrderRequest): Promise<OrderResult> {
    const run = this.tail.then(() => this.inner.execute(request));
    this.tail = run.catch(() => undefined);
    return run;
  }

  lookup(symbol: string, id: string): Promise<OrderResult | null> {
    return this.inner.lookup(symbol, id);
  }

  balances(): Promise<Balances> {
    return this.inner.balances();
  }
}

/** Swaps the engine's paper executor for the one-leg-at-a-time wrapper of that same executor. */
function placeLegsSequentially(engine: Engine): void {
  // Bench only: the facade offers no executor seam, so the baseline reaches into the field the
  // position manager reads its executor from on every operation.
  const internals = engine as unknown as { executors?: Record<TradingMode, Executor | null> };
  const paper = internals.executors?.paper;
  if (!paper || paper.mode !== 'paper') throw new Error('bench: Engine no longer keeps its executors in `executors`; update placeLegsSequentially');
  internals.executors = { ...internals.executors, paper: new OneLegAtATime(paper) } as Record<TradingMode, Executor | null>;
}

export interface OpenResult {
  total: number[];
  preview: number[];
  confirm: number[];
  /** Ledger lines the quotes summed, smallest and largest over the runs. */
  ledgerLines: [number, number];
  /** Where the CPU went, when the p50 was over `profileOverMs`. */
  profile: ProfileSummary | null;
}

interface OpenOptions {
  redisUrl: string;
  legLatencyMs: number;
  sequential?: boolean;
  memory?: boolean;
}

/**
 * Opens hedges through the facade, previewOpen then confirm, as /open and the Confirm button do.
 * One account holds one hedge per coin and, by default, at most 10, so every 10 opens start on a
 * fresh account (untimed): each open finds 0 to 9 other hedges and a ledger of 2 to 56 lines.
 */
function openRunner(options: OpenOptions) {
  let current: BenchEngine | null = null;
  let coins: string[] = [];
  return {
    async once(): Promise<{ previewMs: number; confirmMs: number; ledgerLines: number }> {
      if (!current || coins.length === 0) {
        await current?.close();
        current = await startEngine(options);
        if (options.sequential) placeLegsSequentially(current.engine);
        coins = current.engine.coins().slice(0, benchEngineConfig(0).limits.maxOpenPositions);
      }
      const { engine, store } = current;
      const coin = coins.shift() ?? 'BTC';
      const ledgerLines = (await store.listLedger()).length;
      const t0 = performance.now();
      const preview = await engine.previewOpen(coin, NOTIONAL_USD, BENCH_USER);
      const t1 = performance.now();
      const done = await engine.confirm(preview.operation.id, BENCH_USER);
      const t2 = performance.now();
      if (done.operation.state !== 'open' || !done.position) throw new Error(`bench: open ${coin} ended ${done.operation.state}: ${done.operation.errorMessage ?? ''}`);
      return { previewMs: t1 - t0, confirmMs: t2 - t1, ledgerLines };
    },
    async close(): Promise<void> {
      await current?.close();
    },
  };
}

export async function benchOpen(options: OpenOptions & { runs: number; warmup: number; budgetMs: number; profileOverMs?: number }): Promise<OpenResult> {
  const result: OpenResult = { total: [], preview: [], confirm: [], ledgerLines: [Infinity, 0], profile: null };
  const runner = openRunner(options);
  result.total = await collect(
    options.runs,
    options.warmup,
    async (index) => {
      const { previewMs, confirmMs, ledgerLines } = await runner.once();
      if (index >= 0) {
        result.preview.push(previewMs);
        result.confirm.push(confirmMs);
        result.ledgerLines = [Math.min(result.ledgerLines[0], ledgerLines), Math.max(result.ledgerLines[1], ledgerLines)];
      }
      return previewMs + confirmMs;
    },
    options.budgetMs,
  );
  await runner.close();
  const p50 = distribution(result.total).p50;
  if (options.profileOverMs !== undefined && p50 > options.profileOverMs) {
    const profiled = openRunner(options);
    result.profile = await profileCpu(() => profiled.once(), profileIterations(p50));
    await profiled.close();
  }
  return result;
}

/** Client requests seen by MONITOR, per phase: a MULTI…EXEC block counts once, a script's inner commands not at all. */
export interface RedisRequests {
  total: number;
  byPhase: Record<string, number>;
  byCommand: Record<string, number>;
  sequence: string[];
}

/** Counts the Redis requests each phase of `phases` makes, run one after the other. */
export async function countRedisRequests(redisUrl: string, phases: Record<string, () => Promise<unknown>>): Promise<RedisRequests> {
  const client = new Redis(redisUrl);
  const monitor = await client.monitor();
  const seen: { phase: string; source: string; command: string }[] = [];
  let phase = '';
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') seen.push({ phase, source, command: String(args[0]).toLowerCase() });
  });
  // MONITOR starts streaming a moment after it is acknowledged.
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const [name, work] of Object.entries(phases)) {
    phase = name;
    await work();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  monitor.disconnect();
  client.disconnect();
  const inMulti = new Set<string>();
  const counted: RedisRequests = { total: 0, byPhase: {}, byCommand: {}, sequence: [] };
  for (const { phase: p, source, command } of seen) {
    if (inMulti.has(source)) {
      if (command === 'exec') inMulti.delete(source);
      continue;
    }
    if (command === 'multi') inMulti.add(source);
    counted.total += 1;
    counted.byPhase[p] = (counted.byPhase[p] ?? 0) + 1;
    counted.byCommand[command] = (counted.byCommand[command] ?? 0) + 1;
    if (counted.sequence.length < 200) counted.sequence.push(`${p}:${command}`);
  }
  return counted;
}

/** The Redis requests of one open (preview, then confirm) on a fresh account. */
export async function countOpenRedisRequests(redisUrl: string): Promise<RedisRequests> {
  const bench = await startEngine({ redisUrl, legLatencyMs: 0 });
  let operationId = '';
  const counted = await countRedisRequests(redisUrl, {
    preview: async () => (operationId = (await bench.engine.previewOpen('BTC', NOTIONAL_USD, BENCH_USER)).operation.id),
    confirm: () => bench.engine.confirm(operationId, BENCH_USER),
  });
  await bench.close();
  return counted;
}

/** Round trip of one small command on this machine: the floor under every Redis call above. */
export async function benchRedisRoundTrip(redisUrl: string): Promise<Distribution> {
  const redis = new Redis(redisUrl);
  const samples = await collect(2_000, 200, () => timeMs(() => redis.get('bench:rtt')));
  redis.disconnect();
  return distribution(samples);
}

export interface DeltaCheckResult {
  samples: number[];
  ledgerLines: number;
  ledgerRead: Distribution;
  positionsRead: Distribution;
  balancesRead: Distribution;
  /** Redis requests of one check, by command. */
  requests: RedisRequests;
  profile: ProfileSummary | null;
}

/**
 * checkDeltas over `positions` open hedges seeded straight into the RedisStore, each with the
 * fills and ledger lines of its two legs, so the paper balances hold exactly what is booked.
 */
export async function benchDeltaCheck(options: { redisUrl: string; positions: number; runs: number; warmup: number; budgetMs: number; profileOverMs?: number }): Promise<DeltaCheckResult> {
  const bench = await startEngine({ redisUrl: options.redisUrl, legLatencyMs: 0, manyHedges: true });
  const { engine, exchange, store } = bench;
  const instruments = await InstrumentInfo.load(exchange);
  const sizer = new PositionSizer();
  const coins = engine.coins();
  const now = Date.now();
  const seeded: Promise<void>[] = [];
  for (let i = 0; i < options.positions; i += 1) {
    const pair = instruments.pair(coins[i % coins.length] ?? 'BTC');
    const [spotTicker, perpTicker] = await exchange.fetchTickers([pair.spot.symbol, pair.perp.symbol]);
    if (!spotTicker || !perpTicker) throw new Error('bench: no ticker');
    const qty = sizer.size(pair, NOTIONAL_USD, spotTicker.last, perpTicker.last);
    const operationId = newOperationId(now + i);
    const fill = (kind: 'spot' | 'perp', referencePrice: Decimal): OrderResult => {
      const instrument = kind === 'spot' ? pair.spot : pair.perp;
      const request: OrderRequest = {
        clientOrderId: clientOrderId(operationId, kind),
        coin: pair.coin,
        kind,
        symbol: instrument.symbol,
        side: kind === 'spot' ? 'buy' : 'sell',
        qty,
        reduceOnly: false,
      };
      const result = simulateFill({ request, instrument, referencePrice, slippageBps: PAPER_SLIPPAGE_BPS, fault: null, nowMs: now, orderId: `seed-${operationId}-${kind}` });
      if (!result) throw new Error('bench: no fill');
      return result;
    };
    const spot = fill('spot', spotTicker.last);
    const perp = fill('perp', perpTicker.last);
    const position: Position = {
      id: newPositionId(now + i),
      coin: pair.coin,
      mode: 'paper',
      spotLeg: { kind: 'spot', symbol: spot.symbol, side: 'buy', qty, entryPrice: spot.avgPrice, entryFeeUsd: spot.feeUsd },
      perpLeg: { kind: 'perp', symbol: perp.symbol, side: 'sell', qty, entryPrice: perp.avgPrice, entryFeeUsd: perp.feeUsd },
      openedAtMs: now,
      openedBy: BENCH_USER.name,
      openOperationId: operationId,
      status: 'open',
      lastFundingMs: now,
    };
    seeded.push(
      (async () => {
        await store.recordFill(spot, fillLedgerEntries(spot, 'paper'));
        await store.recordFill(perp, fillLedgerEntries(perp, 'paper'));
        await store.putPosition(position);
      })(),
    );
  }
  await Promise.all(seeded);
  const ledgerLines = (await store.listLedger()).length;
  const samples = await collect(options.runs, options.warmup, async () => {
    const start = performance.now();
    const deltas = await engine.checkDeltas();
    const elapsed = performance.now() - start;
    if (deltas.length !== options.positions || !deltas.every((d) => d.withinTolerance)) {
      throw new Error(`bench: delta check saw ${deltas.length} hedges, ${deltas.filter((d) => !d.withinTolerance).length} drifting`);
    }
    return elapsed;
  }, options.budgetMs);
  const parts = async (read: () => Promise<unknown>): Promise<Distribution> => distribution(await collect(50, 5, () => timeMs(read)));
  const ledgerRead = await parts(() => store.listLedger());
  const positionsRead = await parts(() => store.listOpenPositions());
  const balancesRead = await parts(() => engine.balances());
  const requests = await countRedisRequests(options.redisUrl, { check: () => engine.checkDeltas() });
  const p50 = distribution(samples).p50;
  const profile = options.profileOverMs !== undefined && p50 > options.profileOverMs ? await profileCpu(() => engine.checkDeltas(), profileIterations(p50)) : null;
  await bench.close();
  return { samples, ledgerLines, ledgerRead, positionsRead, balancesRead, requests, profile };
}

export { round };
