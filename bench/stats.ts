import { performance } from 'node:perf_hooks';

/** One figure of bench/results.json: the distribution of a measurement and the goal it is held to. */
export interface Figure {
  p50: number;
  p99: number;
  runs: number;
  unit: 'ms' | 'MB';
  /** The figure meets its goal when p50 ≤ goal; null for a figure that is only reported (a baseline). */
  goal: number | null;
  met: boolean | null;
  min: number;
  max: number;
  /** What limits the figure, with the numbers that show it. */
  note: string;
  [extra: string]: unknown;
}

export interface Distribution {
  p50: number;
  p99: number;
  runs: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile: the smallest sample with at least p of the samples at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('no samples');
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: round(percentile(sorted, 0.5)),
    p99: round(percentile(sorted, 0.99)),
    runs: sorted.length,
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

export function figure(samples: readonly number[], unit: Figure['unit'], goal: number | null, note: string, extra: Record<string, unknown> = {}): Figure {
  const d = distribution(samples);
  return { ...d, unit, goal, met: goal === null ? null : d.p50 <= goal, note, ...extra };
}

/** Three significant decimals are more than the clock and the machine can resolve. */
export function round(value: number, decimals = 3): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** Wall time of one call of `work`, in ms. */
export async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Least runs a figure gets even when one run takes longer than its time budget allows. */
const MIN_RUNS = 5;

/**
 * Runs `once` `warmup` times untimed (JIT, connections, caches), then `runs` times; `once` returns
 * the ms of the part it times, so set-up inside it stays out of the figure. Past `budgetMs` it
 * stops early (after at least MIN_RUNS), so a slow figure cannot take the whole bench past its
 * five minutes; the figure then reports the runs it got.
 */
export async function collect(runs: number, warmup: number, once: (index: number) => Promise<number>, budgetMs = 60_000): Promise<number[]> {
  const start = performance.now();
  for (let i = 0; i < warmup && (i === 0 || performance.now() - start < budgetMs / 10); i += 1) await once(-1 - i);
  const deadline = performance.now() + budgetMs;
  const samples: number[] = [];
  for (let i = 0; i < runs && (i < MIN_RUNS || performance.now() < deadline); i += 1) samples.push(await once(i));
  return samples;
}
