import fc from 'fast-check';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import type { Requester, TradingMode } from '../../../src/engine/domain/types.js';
import type { Engine } from '../../../src/engine/engine.js';
import { COINS, type World } from './world.js';

/** The model side of fast-check's model run: nothing to track, the checks read the world. */
export type Model = Record<string, never>;

const trader = (slot: number): Requester => ({ userId: `u${slot}`, name: `trader${slot}`, chatId: 'ops' });
const admin: Requester = { userId: 'admin', name: 'admin', chatId: 'ops' };
const back = (n: number): string => (n === 0 ? 'the latest preview' : `preview -${n}`);

/**
 * Every command starts its work and returns at once (the run is interleaved by the scheduler, not
 * by awaiting; a command run must never wait for a scheduled call, or the scheduler deadlocks),
 * and is valid at any point: one that finds nothing to act on does nothing.
 */
abstract class Step implements fc.AsyncCommand<Model, World> {
  check(): boolean {
    return true;
  }

  run(_model: Model, world: World): Promise<void> {
    world.journal.steps += 1;
    world.afterPauses(() => this.start(world));
    return Promise.resolve();
  }

  protected abstract start(world: World): void;
  abstract toString(): string;
}

class PreviewOpen extends Step {
  constructor(
    readonly slot: number,
    readonly coin: string,
    readonly notionalUsd: number,
  ) {
    super();
  }

  protected start(world: World): void {
    const request = world.requestPreview();
    world.launch(this.slot, this.toString(), async (engine) => {
      const preview = await engine.previewOpen(this.coin, new Decimal(this.notionalUsd), trader(this.slot));
      world.addPreview(request, preview.operation.id);
    });
  }

  toString(): string {
    return `p${this.slot}: /open ${this.coin} ${this.notionalUsd}`;
  }
}

class Confirm extends Step {
  constructor(
    readonly slot: number,
    readonly preview: number,
  ) {
    super();
  }

  protected start(world: World): void {
    world.whenPreview(this.preview, (id) => world.launch(this.slot, `${this.toString()} ${id}`, (engine) => engine.confirm(id, trader(this.slot))));
  }

  toString(): string {
    return `p${this.slot}: Confirm ${back(this.preview)}`;
  }
}

class Cancel extends Step {
  constructor(
    readonly slot: number,
    readonly preview: number,
  ) {
    super();
  }

  protected start(world: World): void {
    world.whenPreview(this.preview, (id) =>
      world.launch(this.slot, `${this.toString()} ${id}`, async (engine) => {
        await engine.cancel(id, trader(this.slot));
        world.journal.cancelled.add(id);
      }),
    );
  }

  toString(): string {
    return `p${this.slot}: Cancel ${back(this.preview)}`;
  }
}

/** What an `operations` queue worker does with a job (src/jobs/operationQueue.ts): confirm, or resume a started one. */
class WorkerJob extends Step {
  constructor(
    readonly slot: number,
    readonly preview: number,
  ) {
    super();
  }

  protected start(world: World): void {
    world.whenPreview(this.preview, (id) =>
      world.launch(this.slot, `${this.toString()} ${id}`, async (engine) => {
        const op = await engine.getOperation(id);
        if (op?.state === 'requested') await engine.confirm(id, op.requestedBy);
        else if (op?.state === 'confirmed' || op?.state === 'placing') await engine.resume(id);
      }),
    );
  }

  toString(): string {
    return `p${this.slot}: worker job for ${back(this.preview)}`;
  }
}

/** /close of a hedge (0: the latest opened, or the first to open), sent once it is open; its Confirm tapped at once when `confirm`. */
class PreviewClose extends Step {
  constructor(
    readonly slot: number,
    readonly hedge: number,
    readonly confirm: boolean,
  ) {
    super();
  }

  protected start(world: World): void {
    world.whenOpened(this.hedge, (positionId) =>
      world.launch(this.slot, `${this.toString()} ${positionId}`, async (engine) => {
        const request = world.requestPreview();
        const preview = await engine.previewClose(positionId, trader(this.slot));
        world.addPreview(request, preview.operation.id);
        if (this.confirm) await engine.confirm(preview.operation.id, trader(this.slot));
      }),
    );
  }

  toString(): string {
    return `p${this.slot}: /close ${this.hedge === 0 ? 'the latest hedge' : `hedge -${this.hedge}`}${this.confirm ? ' + Confirm' : ''}`;
  }
}

class SwitchMode extends Step {
  constructor(
    readonly slot: number,
    readonly target: TradingMode,
    readonly confirm: boolean,
  ) {
    super();
  }

  protected start(world: World): void {
    const request = world.requestPreview();
    world.launch(this.slot, this.toString(), async (engine) => {
      const preview = await engine.previewMode(this.target, admin);
      world.addPreview(request, preview.id);
      if (this.confirm) await engine.confirm(preview.id, admin);
    });
  }

  toString(): string {
    return `p${this.slot}: /mode ${this.target}${this.confirm ? ' + Confirm' : ''}`;
  }
}

/** A scheduled job (delta check, reconciliation) run `times` times back to back, as its scheduler would. */
class Job extends Step {
  constructor(
    readonly slot: number,
    readonly job: 'checkDeltas' | 'reconcile',
    readonly times: number,
  ) {
    super();
  }

  protected start(world: World): void {
    world.launch(this.slot, this.toString(), async (engine: Engine) => {
      for (let i = 0; i < this.times; i += 1) await (this.job === 'checkDeltas' ? engine.checkDeltas() : engine.reconcile());
    });
  }

  toString(): string {
    return `p${this.slot}: ${this.job}${this.times > 1 ? ` ×${this.times}` : ''}`;
  }
}

class Crash extends Step {
  constructor(
    readonly slot: number,
    readonly inflightActs: boolean,
    readonly restart: boolean,
  ) {
    super();
  }

  protected start(world: World): void {
    world.crash(this.slot, this.inflightActs);
    if (this.restart) world.restart(this.slot);
  }

  toString(): string {
    return `p${this.slot}: crash (in-flight calls ${this.inflightActs ? 'still act' : 'lost'})${this.restart ? ' + restart' : ''}`;
  }
}

class Restart extends Step {
  constructor(readonly slot: number) {
    super();
  }

  protected start(world: World): void {
    world.restart(this.slot);
  }

  toString(): string {
    return `p${this.slot}: restart`;
  }
}

class AdvanceClock extends Step {
  constructor(readonly ms: number) {
    super();
  }

  protected start(world: World): void {
    void world.clock.advance(this.ms);
  }

  toString(): string {
    return `clock +${this.ms} ms`;
  }
}

class VenueProgress extends Step {
  constructor(readonly count: number) {
    super();
  }

  protected start(world: World): void {
    world.progress(this.count);
  }

  toString(): string {
    return `venue: ${this.count === Infinity ? 'every' : this.count} resting order(s) fill`;
  }
}

/** Lets `count` scheduler steps pass before the commands after it start: the work in flight moves on meanwhile. */
class Pause extends Step {
  constructor(readonly count: number) {
    super();
  }

  override run(_model: Model, world: World): Promise<void> {
    world.journal.steps += 1;
    world.pause(this.count);
    return Promise.resolve();
  }

  protected start(): void {}

  toString(): string {
    return `pause for ${this.count} steps`;
  }
}

export interface CommandWeights {
  previewOpen: number;
  confirm: number;
  cancel: number;
  workerJob: number;
  previewClose: number;
  checkDeltas: number;
  reconcile: number;
  switchMode: number;
  crash: number;
  restart: number;
  clock: number;
  venue: number;
  pause: number;
}

export const BASE_WEIGHTS: CommandWeights = {
  previewOpen: 4,
  confirm: 4,
  cancel: 1,
  workerJob: 1,
  previewClose: 2,
  checkDeltas: 2,
  reconcile: 1,
  switchMode: 0,
  crash: 0,
  restart: 0,
  clock: 2,
  venue: 2,
  pause: 3,
};

/** The generated command list; a zero weight leaves a command out. */
export function commandsArbitrary(weights: CommandWeights, options: { processes: number; maxCommands: number; replayPath?: string }): fc.Arbitrary<Iterable<fc.AsyncCommand<Model, World>>> {
  const slot = fc.nat({ max: options.processes - 1 });
  const preview = fc.nat({ max: 3 });
  const hedge = fc.nat({ max: 2 });
  const coin = fc.constantFrom(...COINS);
  const all: [keyof CommandWeights, fc.Arbitrary<Step>][] = [
    ['previewOpen', fc.tuple(slot, coin, fc.constantFrom(1000, 3000, 250)).map(([s, c, n]) => new PreviewOpen(s, c, n))],
    ['confirm', fc.tuple(slot, preview).map(([s, i]) => new Confirm(s, i))],
    ['cancel', fc.tuple(slot, preview).map(([s, i]) => new Cancel(s, i))],
    ['workerJob', fc.tuple(slot, preview).map(([s, i]) => new WorkerJob(s, i))],
    ['previewClose', fc.tuple(slot, hedge, fc.boolean()).map(([s, h, k]) => new PreviewClose(s, h, !k))],
    ['checkDeltas', fc.tuple(slot, fc.constantFrom(1, 8)).map(([s, n]) => new Job(s, 'checkDeltas', n))],
    ['reconcile', fc.tuple(slot, fc.constantFrom(1, 8)).map(([s, n]) => new Job(s, 'reconcile', n))],
    ['switchMode', fc.tuple(slot, fc.constantFrom<TradingMode>('paper', 'live'), fc.boolean()).map(([s, m, k]) => new SwitchMode(s, m, !k))],
    ['crash', fc.tuple(slot, fc.boolean(), fc.boolean()).map(([s, a, r]) => new Crash(s, a, !r))],
    ['restart', slot.map((s) => new Restart(s))],
    ['clock', fc.constantFrom(300, 1_000, 5_001, 61_000).map((ms) => new AdvanceClock(ms))],
    ['venue', fc.constantFrom(1, Infinity).map((n) => new VenueProgress(n))],
    ['pause', fc.constantFrom(3, 10, 30).map((n) => new Pause(n))],
  ];
  const weighted = all.filter(([name]) => weights[name] > 0).map(([name, arbitrary]) => ({ arbitrary, weight: weights[name] }));
  return fc.commands([fc.oneof(...weighted)], { maxCommands: options.maxCommands, size: 'max', ...(options.replayPath ? { replayPath: options.replayPath } : {}) });
}
