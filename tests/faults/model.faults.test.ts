/**
 * Model-based runs against the engine: several engine processes on one venue and one store,
 * generated commands started without awaiting, every venue and store call released in an order
 * fast-check's scheduler picks, faults on every call, crashes and restarts.
 *
 * THE INVARIANT is INVARIANT in ./model/invariant.ts (also printed in docs/RELIABILITY.md).
 *
 * Run: npx vitest run --project faults tests/faults/model.faults.test.ts [-t "<scenario>"].
 * MODEL_RUNS sets the runs per scenario; MODEL_SEED=<seed> replays a reported failure (and its
 * shrinking); MODEL_PATH with MODEL_REPLAY_PATH (the counterexample's replayPath) replays just the
 * shrunk run.
 */
import fc from 'fast-check';
import { describe, it, vi } from 'vitest';
import { INVARIANT } from './model/invariant.js';
import { scenarioProperty, SCENARIOS } from './model/scenarios.js';
import { recordOutcome } from './support/outcomes.js';

// Operation and position ids come from crypto.randomBytes; a replayed run must make the same ones.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  const { deterministicBytes } = await import('./model/ids.js');
  return { ...actual, randomBytes: deterministicBytes, default: { ...actual, randomBytes: deterministicBytes } };
});

const RUNS = Number(process.env.MODEL_RUNS ?? 1000);
const SEED = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);
const PATH = process.env.MODEL_PATH;
/** The commands' `replayPath` from a counterexample (the comment after its last command), with MODEL_PATH. */
const REPLAY_PATH = process.env.MODEL_REPLAY_PATH;
/** Per scenario, shrinking included, so the file stays within its time on two shared cores. */
const TIME_LIMIT_MS = Number(process.env.MODEL_TIME_LIMIT_MS ?? 8_000);

describe('model-based runs: a hedge is whole, or the team is told loudly', () => {
  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      const totals = { runs: 0, steps: 0 };
      const started = Date.now();
      const details = await fc.check(scenarioProperty(scenario, totals, REPLAY_PATH), {
        numRuns: RUNS,
        includeErrorInReport: true,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        ...(SEED === undefined ? {} : { seed: SEED }),
        ...(PATH === undefined ? {} : { path: PATH }),
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const violation = details.errorInstance instanceof Error ? details.errorInstance.message.split('\n')[1]?.replace(/^\s*- /, '') : undefined;
      recordOutcome({
        group: 'Model-based runs',
        fault: scenario.name,
        tries: totals.runs,
        outcome: details.failed
          ? `invariant violated after ${details.numRuns} run(s) (MODEL_SEED=${details.seed}; ${details.numShrinks} shrinks, ${totals.runs} runs with shrinking, ${totals.steps} commands, ${seconds} s): ${violation ?? 'see the test output'}`
          : `${details.numRuns} runs, ${totals.steps} commands, ${seconds} s: the invariant held${details.interrupted ? ' (stopped at the time limit)' : ''}`,
        passed: !details.failed,
        note: INVARIANT,
      });
      if (details.failed) {
        const report = fc.defaultReportMessage(details) ?? 'the invariant was violated';
        const replayPath = /replayPath="([^"]*)"/.exec(report)?.[1];
        const replay = `MODEL_SEED=${details.seed} (runs and shrinks again)${replayPath ? `, or MODEL_SEED=${details.seed} MODEL_PATH="${details.counterexamplePath ?? ''}" MODEL_REPLAY_PATH="${replayPath}" (only the shrunk run)` : ''}`;
        throw new Error(`${report}\nReplay with ${replay}, e.g. npx vitest run --project faults tests/faults/model.faults.test.ts -t "${scenario.name}"`);
      }
    });
  }
});
