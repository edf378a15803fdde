import { readFileSync, writeFileSync } from 'node:fs';
import type { Figure } from './stats.js';

export const START_MARKER = '<!-- bench:start -->';
export const END_MARKER = '<!-- bench:end -->';

export interface BenchReport {
  date: string;
  machine: { cores: number; cpu: string; memoryGb: number; node: string; os: string; redis: string; loadAverage?: { atStart: number[]; atEnd: number[] } };
  figures: Record<string, Figure>;
}

const LABELS: Record<string, string> = {
  hedge_open_p50_ms: 'open a hedge, legs 50 ms each (preview + confirm)',
  sequential_open_p50_ms: 'baseline: same, legs one after the other',
  engine_overhead_p50_ms: 'open a hedge, legs 0 ms (engine + Redis)',
  rank_1800_rates_p50_ms: 'rank 1,800 funding rates',
  delta_check_500_p50_ms: 'delta check, 500 open hedges',
  status_roundtrip_p50_ms: '/status through the Bot API emulator',
  alert_delivery_p50_ms: 'engine event → alert at the emulator',
  rss_mb_after_start: 'resident memory after start',
  cold_start_ms: 'process start → first answered command',
};

function value(figure: Figure, v: number): string {
  return figure.unit === 'MB' || v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function verdict(figure: Figure): string {
  if (figure.met === null) return 'reported';
  return figure.met ? 'met' : '**missed**';
}

/** The table and the notes, as markdown. */
export function renderTable(report: BenchReport): string {
  const { machine } = report;
  const rows = Object.entries(report.figures).map(([key, f]) => {
    const goal = f.goal === null ? '–' : `≤ ${value(f, f.goal)}`;
    return `| \`${key}\` | ${LABELS[key] ?? key} | ${value(f, f.p50)} | ${value(f, f.p99)} | ${f.runs} | ${f.unit} | ${goal} | ${verdict(f)} |`;
  });
  const notes = Object.entries(report.figures).map(([key, f]) => `- \`${key}\`: ${f.note}`);
  return [
    `Measured ${report.date.slice(0, 10)} on ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GB, Node ${machine.node}, ${machine.os}, ${machine.redis}` +
      (machine.loadAverage ? `; load average ${machine.loadAverage.atStart[0] ?? '?'} at the start and ${machine.loadAverage.atEnd[0] ?? '?'} at the end (other work on the machine shows in the p99).` : '.'),
    '',
    '| key | what | p50 | p99 | runs | unit | goal (p50) | |',
    '|---|---|---:|---:|---:|---|---|---|',
    ...rows,
    '',
    'What limits each figure:',
    '',
    ...notes,
  ].join('\n');
}

/** Plain-text table for the terminal. */
export function renderTerminal(report: BenchReport): string {
  const header = ['key', 'p50', 'p99', 'runs', 'unit', 'goal', ''];
  const rows = Object.entries(report.figures).map(([key, f]) => [
    key,
    value(f, f.p50),
    value(f, f.p99),
    String(f.runs),
    f.unit,
    f.goal === null ? '-' : `<= ${value(f, f.goal)}`,
    f.met === null ? 'baseline' : f.met ? 'ok' : 'MISSED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** Rewrites what lies between the bench markers of README.md; appends the section when it has none. */
export function updateReadme(path: string, report: BenchReport): void {
  const readme = readFileSync(path, 'utf8');
  const body = `${START_MARKER}\n${renderTable(report)}\n${END_MARKER}`;
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  const next =
    start >= 0 && end > start
      ? `${readme.slice(0, start)}${body}${readme.slice(end + END_MARKER.length)}`
      : `${readme.trimEnd()}\n\n## Benchmarks\n\n\`npm run bench\` regenerates the table below and \`bench/results.json\`.\n\n${body}\n`;
  writeFileSync(path, next);
}
