import fc from 'fast-check';
import type { FaultKind } from '../../../src/engine/exchange/faults.js';
import { BASE_WEIGHTS, commandsArbitrary, type CommandWeights } from './commands.js';
import { faultSchedule, type FaultSchedule, type OrderFault } from './faults.js';
import { COINS, World, type RunConfig } from './world.js';

/** One family of runs: which commands come how often, which calls fail, which limits apply. */
export interface Scenario {
  name: string;
  weights: Partial<CommandWeights>;
  /** Bot processes (engines) sharing the venue and the store. */
  processes: number;
  config: fc.Arbitrary<RunConfig>;
  faults: { order: boolean | readonly OrderFault[]; read: boolean; write: boolean };
  maxCommands: number;
}

const live = (overrides: Partial<RunConfig> = {}): RunConfig => ({ mode: 'live', processes: 1, maxOpenPositions: 10, maxTotalExposureUsd: 100_000, paperFaults: [], ...overrides });
const smallLimits = fc.record({ maxOpenPositions: fc.constantFrom(1, 2, 10), maxTotalExposureUsd: fc.constantFrom(2_500, 100_000) });
const paperFault = fc.record({
  kind: fc.constantFrom<'spot' | 'perp'>('spot', 'perp'),
  coin: fc.constantFrom(...COINS),
  fault: fc.constantFrom<FaultKind>('reject', 'timeout', 'partial', 'drift', 'late'),
});

/** No Cancel, no delta check, no mode switch: the races those find have scenarios of their own. */
const QUIET: Partial<CommandWeights> = { cancel: 0, checkDeltas: 0, reconcile: 0 };
const NO_FAULTS = { order: false, read: false, write: false };
/** Without faults and clock moves, nothing times out during the run: only the race is left. */
const RACE: Partial<CommandWeights> = { clock: 0, venue: 0 };

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'live: faults on every venue call, one worker',
    processes: 1,
    weights: { ...QUIET },
    config: fc.constant(live()),
    faults: { order: true, read: true, write: false },
    maxCommands: 25,
  },
  {
    name: 'live: Cancel racing Confirm, two workers',
    processes: 2,
    weights: { ...RACE, cancel: 4, checkDeltas: 0, reconcile: 0, previewClose: 1 },
    config: fc.constant(live()),
    faults: NO_FAULTS,
    maxCommands: 20,
  },
  {
    name: 'live: delta checks and reconciliations racing opens and closes',
    processes: 2,
    weights: { ...RACE, cancel: 0, workerJob: 0, checkDeltas: 6, reconcile: 1, previewClose: 2 },
    config: fc.constant(live()),
    faults: NO_FAULTS,
    maxCommands: 16,
  },
  {
    name: 'live: confirms on different coins under small limits',
    processes: 2,
    weights: { ...QUIET, ...RACE, workerJob: 2 },
    config: smallLimits.map((limits) => live(limits)),
    faults: NO_FAULTS,
    maxCommands: 20,
  },
  {
    name: 'live: closes that need a second attempt (orders refused)',
    processes: 1,
    weights: { ...QUIET, previewClose: 5, clock: 0, venue: 0 },
    config: fc.constant(live()),
    faults: { order: ['refused'], read: false, write: false },
    maxCommands: 25,
  },
  {
    name: 'mode switches with previews outstanding',
    processes: 2,
    weights: { ...QUIET, ...RACE, switchMode: 3, previewClose: 1 },
    config: fc.constantFrom<RunConfig['mode']>('live', 'paper').map((mode) => live({ mode })),
    faults: NO_FAULTS,
    maxCommands: 20,
  },
  {
    name: 'live: crashes, restarts and a second worker, venue faults',
    processes: 2,
    weights: { ...QUIET, crash: 2, restart: 1, workerJob: 3 },
    config: fc.constant(live()),
    faults: { order: true, read: true, write: false },
    maxCommands: 25,
  },
  {
    name: 'live: store writes fail before or after they land',
    processes: 2,
    weights: { ...QUIET, workerJob: 2 },
    config: fc.constant(live()),
    faults: { order: false, read: false, write: true },
    maxCommands: 25,
  },
  {
    name: 'paper: FaultPlan faults and store faults, two workers',
    processes: 2,
    weights: { ...QUIET, crash: 1, restart: 1, workerJob: 2 },
    config: fc.array(paperFault, { maxLength: 2 }).map((paperFaults) => live({ mode: 'paper', paperFaults })),
    faults: { order: false, read: true, write: true },
    maxCommands: 25,
  },
  {
    name: 'everything at once: every command, every fault, small limits',
    processes: 2,
    weights: { cancel: 1, switchMode: 1, crash: 1, restart: 1, workerJob: 2 },
    config: fc.tuple(smallLimits, fc.constantFrom<RunConfig['mode']>('live', 'live', 'live', 'paper'), fc.array(paperFault, { maxLength: 1 })).map(([limits, mode, paperFaults]) => live({ mode, paperFaults, ...limits })),
    faults: { order: true, read: true, write: true },
    maxCommands: 30,
  },
];

export interface RunTotals {
  runs: number;
  steps: number;
}

/** One run: build the world, run the commands under the scheduler, settle, check. Throws the violations. */
export async function runOnce(
  scheduler: fc.Scheduler,
  commands: Iterable<fc.AsyncCommand<Record<string, never>, World>>,
  schedule: FaultSchedule,
  config: RunConfig,
  totals?: RunTotals,
): Promise<{ violations: string[]; story: string[] }> {
  const world = await World.create(config, schedule);
  world.attach(scheduler);
  await fc.scheduledModelRun(scheduler, () => ({ model: {}, real: world }), commands);
  const violations = await world.finish();
  if (totals) {
    totals.runs += 1;
    totals.steps += world.journal.steps;
  }
  return { violations, story: world.story() };
}

/** The property of a scenario: every generated run keeps the invariant. */
export function scenarioProperty(scenario: Scenario, totals: RunTotals, replayPath?: string) {
  return fc.asyncProperty(
    fc.scheduler(),
    commandsArbitrary({ ...BASE_WEIGHTS, ...scenario.weights }, { processes: scenario.processes, maxCommands: scenario.maxCommands, ...(replayPath ? { replayPath } : {}) }),
    faultSchedule(scenario.faults),
    scenario.config.map((config) => ({ ...config, processes: scenario.processes })),
    async (scheduler, commands, schedule, config) => {
      const { violations, story } = await runOnce(scheduler, commands, schedule, config, totals);
      if (violations.length > 0) throw new Error(`invariant violated:\n  - ${violations.slice(0, 6).join('\n  - ')}\nwhat happened:\n    ${story.join('\n    ')}`);
    },
  );
}
