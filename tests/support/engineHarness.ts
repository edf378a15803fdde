import pino from 'pino';
import { Decimal, Engine, ManualClock, type EngineConfig, type EngineEvent, type RecoveryReport } from '../../src/engine/index.js';
import { FaultPlan } from '../../src/engine/exchange/faults.js';
import { SimulatedExchange } from '../../src/engine/exchange/simulatedExchange.js';
import type { Exchange } from '../../src/engine/exchange/port.js';
import type { Store } from '../../src/engine/store/port.js';
import type { Locks } from '../../src/engine/position/locks.js';
import { MemoryStore } from '../../src/engine/store/memoryStore.js';

export function testEngineConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    initialMode: 'paper',
    hedgeTimeoutMs: 5_000,
    driftToleranceBps: new Decimal(50),
    quoteToleranceBps: new Decimal(50),
    quoteTtlMs: 60_000,
    maxPriceAgeMs: 60_000,
    limits: {
      maxPositionNotionalUsd: new Decimal(25_000),
      maxTotalExposureUsd: new Decimal(100_000),
      maxOpenPositions: 10,
      perpLeverage: new Decimal(1),
    },
    paperStartUsdt: new Decimal(50_000),
    fundingHoldDays: 7,
    fundingAlertAprPct: null,
    maintenanceMarginRate: new Decimal('0.005'),
    liquidationAlertPct: new Decimal(20),
    fundingMismatchToleranceUsd: new Decimal('0.01'),
    fundingMismatchTolerancePct: new Decimal(2),
    paperFaults: new FaultPlan(),
    paperLegLatencyMs: 0,
    ...overrides,
  };
}

export interface EngineHarness {
  engine: Engine;
  clock: ManualClock;
  store: Store;
  exchange: SimulatedExchange;
  /** What start() reported for operations a previous run left unfinished. */
  recovery: RecoveryReport[];
  /** Every event since before start(), recovery alerts included. */
  events: EngineEvent[];
}

/**
 * A started engine on the simulated venue with a manual clock; MemoryStore unless one is given.
 * `live`: the same venue also takes the live orders, and the engine is switched to live mode.
 */
export async function startTestEngine(
  options: {
    config?: Partial<EngineConfig>;
    store?: Store;
    clock?: ManualClock;
    live?: boolean;
    /** The live venue seen by the engine, around the simulated one (e.g. to add what a real venue reports). */
    wrapLive?: (venue: SimulatedExchange) => Exchange;
  } = {},
): Promise<EngineHarness> {
  const clock = options.clock ?? new ManualClock();
  const store = options.store ?? new MemoryStore();
  const exchange = new SimulatedExchange({ clock, seed: 7 });
  const engine = await Engine.create({
    config: testEngineConfig(options.config),
    clock,
    store,
    exchange,
    ...(options.live ? { liveExchange: options.wrapLive ? options.wrapLive(exchange) : exchange } : {}),
    logger: pino({ level: 'silent' }),
  });
  const events: EngineEvent[] = [];
  engine.subscribe((event) => events.push(event));
  const recovery = await engine.start();
  if (options.live) await engine.setMode('live', { userId: 'admin', name: 'admin', chatId: 'test' });
  return { engine, clock, store, exchange, recovery, events };
}

/**
 * An engine trading live on `live` (a simulated venue, or a wrapper of it that misbehaves), with
 * `venue` serving market data, already started and switched to live; its events collected.
 */
export async function startLiveEngine(args: {
  clock: ManualClock;
  store: Store;
  venue: SimulatedExchange;
  live?: Exchange;
  config?: Partial<EngineConfig>;
  locks?: Locks;
}): Promise<{ engine: Engine; events: EngineEvent[] }> {
  const engine = await Engine.create({
    config: testEngineConfig(args.config),
    clock: args.clock,
    store: args.store,
    exchange: args.venue,
    liveExchange: args.live ?? args.venue,
    logger: pino({ level: 'silent' }),
    ...(args.locks ? { locks: args.locks } : {}),
  });
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  await engine.start();
  await engine.setMode('live', { userId: 'admin', name: 'admin', chatId: 'test' });
  return { engine, events };
}
