import type fc from 'fast-check';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { BotError } from '../../../src/engine/domain/errors.js';
import type { OrderRequest, TradingMode } from '../../../src/engine/domain/types.js';
import { Engine, type EngineConfig } from '../../../src/engine/engine.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import { FaultPlan, type Fault } from '../../../src/engine/exchange/faults.js';
import { SIM_CATALOG } from '../../../src/engine/exchange/simulatedCatalog.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { silentLogger } from '../../support/engine.js';
import { testEngineConfig } from '../../support/engineHarness.js';
import { checkEvent, describeEvent } from './claims.js';
import { FaultSource, type FaultSchedule } from './faults.js';
import { resetIds } from './ids.js';
import { checkInvariant } from './invariant.js';
import { Journal } from './journal.js';
import { ModelLocks } from './locks.js';
import { ModelProcess, type Wiring } from './process.js';
import { ModelVenue } from './venue.js';

export const COINS = ['BTC', 'ETH', 'SOL'] as const;
export const HEDGE_TIMEOUT_MS = 5_000;
/** Scheduler steps, clock moves and venue steps the final settle may take before the run counts as stuck. */
const MAX_SETTLE_ROUNDS = 20_000;

export interface RunConfig {
  mode: TradingMode;
  processes: number;
  maxOpenPositions: number;
  maxTotalExposureUsd: number;
  /** Paper-mode faults (src/engine/exchange/faults.ts), fixed for the run. */
  paperFaults: Fault[];
}

interface Work {
  label: string;
  process: ModelProcess;
  done: boolean;
}

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Everything one run shares: the venue, the store, the clock, the locks, the fault schedule, the
 * processes (one per slot; a crashed one is replaced by a new generation) and the journal of what
 * happened. Commands start work here without awaiting it; the scheduler decides the rest.
 */
export class World implements Wiring {
  readonly clock = new ManualClock();
  readonly store = new MemoryStore();
  readonly journal: Journal;
  readonly venue: ModelVenue;
  readonly faults: FaultSource;
  readonly processes: ModelProcess[] = [];
  /** Operation ids of the previews that came back, by request number. */
  private readonly previews: string[] = [];
  private previewRequests = 0;
  readonly engineConfig: EngineConfig;
  private readonly locks = new ModelLocks();
  private readonly work: Work[] = [];
  /** Position ids in the order their `opened` events came. */
  private readonly opened: string[] = [];
  /** Commands waiting for something to exist; each returns true once it ran. */
  private waiters: (() => boolean)[] = [];
  private scheduler: fc.Scheduler | null = null;
  private paused: Promise<void> = Promise.resolve();

  private constructor(
    readonly config: RunConfig,
    schedule: FaultSchedule,
    venue: (journal: Journal, clock: ManualClock) => ModelVenue,
  ) {
    this.journal = new Journal(config.mode);
    this.venue = venue(this.journal, this.clock);
    this.faults = new FaultSource(schedule);
    this.engineConfig = testEngineConfig({
      initialMode: config.mode,
      hedgeTimeoutMs: HEDGE_TIMEOUT_MS,
      paperStartUsdt: new Decimal(100_000),
      paperFaults: new FaultPlan(config.paperFaults),
      limits: {
        maxPositionNotionalUsd: new Decimal(25_000),
        maxTotalExposureUsd: new Decimal(config.maxTotalExposureUsd),
        maxOpenPositions: config.maxOpenPositions,
        perpLeverage: new Decimal(1),
      },
    });
  }

  /** Builds the world and boots its processes, with no scheduler and no faults yet. */
  static async create(config: RunConfig, schedule: FaultSchedule): Promise<World> {
    resetIds();
    const catalog = await new SimulatedExchange({ clock: new ManualClock() }).loadInstruments();
    const instruments = catalog.filter((i) => (COINS as readonly string[]).includes(i.coin));
    const prices = new Map(instruments.map((i) => [i.symbol, new Decimal(SIM_CATALOG.find((c) => c.coin === i.coin)?.price ?? '1')]));
    const world = new World(config, schedule, (journal, clock) => new ModelVenue(instruments, prices, () => clock.nowMs(), (coin, leg) => journal.changed('live', coin, [leg])));
    if (config.mode === 'paper') await world.store.setMode('paper');
    for (let slot = 0; slot < config.processes; slot += 1) {
      const process = new ModelProcess(slot, 0, world);
      world.processes.push(process);
      await world.boot(process);
    }
    return world;
  }

  /** From here on every venue and store call waits for the scheduler, and faults apply. */
  attach(scheduler: fc.Scheduler): void {
    this.scheduler = scheduler;
    this.faults.enabled = true;
  }

  gate(label: string): Promise<void> {
    return this.scheduler ? this.scheduler.schedule(Promise.resolve(), label) : Promise.resolve();
  }

  /** The mode rule: an open's own legs go out only in the mode that is current when they go out. */
  onPlacement(request: Pick<OrderRequest, 'clientOrderId'>, mode: TradingMode): void {
    const op = this.journal.operationOf(request.clientOrderId);
    if (!op || op.kind !== 'open' || !['s', 'p'].includes(request.clientOrderId.slice(op.id.length))) return;
    if (mode !== this.journal.mode) {
      this.journal.violation(`open ${op.id} (${op.coin}, previewed in ${op.mode}) sent ${request.clientOrderId} to the ${mode} venue while the mode is ${this.journal.mode}`);
    }
  }

  /** Commands start in order, each after every pause before it has passed. */
  afterPauses(start: () => void): void {
    this.paused = this.paused.then(start);
  }

  /** The commands after this one start only once `steps` scheduled steps (one each) have passed. */
  pause(steps: number): void {
    this.paused = this.paused.then(async () => {
      for (let i = 0; i < steps; i += 1) await this.gate('pause');
    });
  }

  /** Numbers a preview request; its operation id is filed under that number when it comes back. */
  requestPreview(): number {
    return this.previewRequests++;
  }

  addPreview(request: number, operationId: string): void {
    this.previews[request] = operationId;
    this.notify();
  }

  /**
   * Runs `then` once a preview has come back: `back` 0 is the latest preview asked for so far, 1
   * the one before, and so on (as a person taps the button of a preview on screen). Nothing
   * when none was asked for; never when that preview failed.
   */
  whenPreview(back: number, then: (operationId: string) => void): void {
    if (this.previewRequests === 0) return;
    const request = this.previewRequests - 1 - (back % this.previewRequests);
    this.when(() => this.previews[request] ?? null, then);
  }

  /** Runs `then` with a hedge opened: `back` 0 the latest opened so far (or the first to open), 1 the one before… */
  whenOpened(back: number, then: (positionId: string) => void): void {
    const index = this.opened.length === 0 ? 0 : this.opened.length - 1 - (back % this.opened.length);
    this.when(() => this.opened[index] ?? null, then);
  }

  /** Starts work on the engine of a slot, without awaiting it; nothing when that process is down. */
  launch(slot: number, label: string, work: (engine: Engine) => Promise<unknown>): void {
    const process = this.processes[slot % this.processes.length];
    if (!process || process.dead || !process.ready || !process.engine) return;
    this.track(process, label, work(process.engine));
  }

  crash(slot: number, inflightActs: boolean): void {
    const process = this.processes[slot % this.processes.length];
    if (!process || process.dead) return;
    process.crash(inflightActs);
    this.locks.freeAll(process);
  }

  /** A new process in a dead one's slot (or a failed boot tried again): Engine.create, then start() recovers. */
  restart(slot: number): void {
    const index = slot % this.processes.length;
    const current = this.processes[index];
    if (!current || current.ready) return;
    if (!current.dead && this.work.some((w) => !w.done && w.process === current && w.label === 'boot')) return;
    const process = current.dead ? new ModelProcess(current.slot, current.generation + 1, this) : current;
    this.processes[index] = process;
    this.track(process, 'boot', this.boot(process));
  }

  /**
   * Lets every pending call through, moves the clock past every timeout still waited on, and
   * stops when nothing is left to do (work of dead processes hangs for ever, by design).
   */
  async settle(): Promise<void> {
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round += 1) {
      await macrotask();
      if (this.scheduler && this.scheduler.count() > 0) {
        await this.scheduler.waitOne();
        continue;
      }
      if (this.clock.pendingSleeps() > 0) {
        await this.clock.advance(HEDGE_TIMEOUT_MS);
        continue;
      }
      return;
    }
    this.journal.violation(`the run did not settle within ${MAX_SETTLE_ROUNDS} steps`);
  }

  /**
   * The final settle: faults off, all pending work finished, every late and stale order landed,
   * dead processes replaced (recovery runs), then one delta check and one reconciliation.
   * Then the invariant.
   */
  async finish(): Promise<string[]> {
    this.faults.enabled = false;
    await this.settle();
    // Nobody taps a button after the run: a preview that never came back gets no Confirm.
    this.waiters = [];
    this.venue.progress(Infinity);
    await this.settle();
    for (let slot = 0; slot < this.processes.length; slot += 1) this.restart(slot);
    await this.settle();
    const auditor = this.processes.findIndex((p) => p.ready);
    if (auditor < 0) this.journal.violation('no process could start after the run');
    this.launch(auditor, 'final checkDeltas', (engine) => engine.checkDeltas());
    await this.settle();
    this.launch(auditor, 'final reconcile', (engine) => engine.reconcile());
    await this.settle();
    for (const w of this.work) if (!w.done && !w.process.dead) this.journal.violation(`"${w.label}" on ${w.process.label} never finished`);
    await checkInvariant({ journal: this.journal, venue: this.venue, store: this.store, coins: COINS });
    return this.journal.violations;
  }

  /** What happened, in order: command outcomes, fills, and every event the team got. */
  story(): string[] {
    const lines: { seq: number; text: string }[] = [
      ...this.journal.outcomes,
      ...this.venue.fills.map((f) => ({ seq: f.seq, text: `venue: ${f.clientOrderId} ${f.kind} ${f.side} ${f.qty.toString()} filled` })),
      ...this.journal.paperFills.map((f) => ({ seq: f.seq, text: `paper: ${f.clientOrderId} ${f.kind} ${f.side} ${f.qty.toString()} filled` })),
      ...this.journal.events.map((e) => ({ seq: e.seq, text: `${e.process} tells the team: ${e.event.type}${e.event.critical ? ' (critical)' : ''}: ${describeEvent(e.event)}` })),
    ];
    return lines.sort((a, b) => a.seq - b.seq).map((l) => l.text);
  }

  /** Fills the venue's resting orders; a late one answers its caller. */
  progress(count: number): void {
    this.venue.progress(count);
  }

  private when<T>(find: () => T | null, then: (found: T) => void): void {
    const attempt = (): boolean => {
      const found = find();
      if (found === null) return false;
      then(found);
      return true;
    };
    if (!attempt()) this.waiters.push(attempt);
  }

  private notify(): void {
    this.waiters = this.waiters.filter((attempt) => !attempt());
  }

  private async boot(process: ModelProcess): Promise<void> {
    if (!process.engine) {
      const engine = await Engine.create({
        config: this.engineConfig,
        clock: this.clock,
        store: process.store,
        exchange: process.venue,
        liveExchange: process.venue,
        logger: silentLogger,
        locks: this.locks.for(process),
      });
      engine.subscribe((event) => this.onEvent(process, event));
      process.engine = engine;
    }
    await process.engine.start();
    process.ready = true;
  }

  private track(owner: ModelProcess, label: string, promise: Promise<unknown>): void {
    const work: Work = { label, process: owner, done: false };
    this.work.push(work);
    const done = (): void => {
      work.done = true;
    };
    const ended = (text: string): void => {
      this.journal.outcomes.push({ seq: this.journal.next(), text: `${owner.label} ${label} → ${text}` });
      done();
    };
    promise.then(
      () => ended('done'),
      (err: unknown) => ended(err instanceof BotError ? `${err.code}: ${err.message}` : `error: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /** A dead process tells no one; everything else is checked the moment it is said. */
  private onEvent(process: ModelProcess, event: EngineEvent): void {
    if (process.dead) return;
    const seen = { seq: this.journal.next(), process: process.label, event };
    this.journal.events.push(seen);
    if (event.type === 'opened') {
      this.opened.push(event.position.id);
      this.notify();
    }
    checkEvent({ journal: this.journal, venue: this.venue, limits: this.engineConfig.limits }, seen);
  }
}
