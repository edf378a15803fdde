import { Session } from 'node:inspector/promises';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where the CPU went while a workload ran: shares of the sampled time, largest first. */
export interface ProfileSummary {
  sampledMs: number;
  /** Share of the time the thread waited (on Redis, timers, sockets). */
  idlePct: number;
  gcPct: number;
  /** Functions by their own time (not counting callees). */
  self: { fn: string; pct: number }[];
  /** Functions of src/ by the time spent in them and their callees. */
  inclusive: { fn: string; pct: number }[];
}

const label = (node: ProfileNode): string => {
  const { functionName, url } = node.callFrame;
  const file = url ? basename(url) : '';
  return `${functionName || '(anonymous)'}${file ? ` (${file})` : ''}`;
};

/** About three seconds of a workload whose p50 is `p50Ms`: enough samples, little time. */
export function profileIterations(p50Ms: number): number {
  return Math.max(2, Math.min(500, Math.round(3_000 / Math.max(p50Ms, 0.001))));
}

/** Runs `work` `iterations` times under the V8 sampling profiler of this process. */
export async function profileCpu(work: () => Promise<unknown>, iterations: number, top = 6): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    for (let i = 0; i < iterations; i += 1) await work();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    return summarize(profile, top);
  } finally {
    session.disconnect();
  }
}

function summarize(profile: CpuProfile, top: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const timeById = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    timeById.set(id, (timeById.get(id) ?? 0) + dt);
    total += dt;
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, time] of timeById) {
    const node = byId.get(id);
    if (!node) continue;
    const name = node.callFrame.functionName;
    if (name === '(idle)') idle += time;
    else if (name === '(garbage collector)') gc += time;
    else if (name !== '(program)' && name !== '(root)') self.set(label(node), (self.get(label(node)) ?? 0) + time);
    // Each src/ function once per stack, so recursion does not count twice.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame || !frame.callFrame.url.includes('/src/')) continue;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + time);
    }
  }
  const pct = (time: number): number => (total > 0 ? Math.round((1000 * time) / total) / 10 : 0);
  const ranked = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, time]) => ({ fn, pct: pct(time) }));
  return { sampledMs: Math.round(total / 1000), idlePct: pct(idle), gcPct: pct(gc), self: ranked(self), inclusive: ranked(inclusive) };
}

/** One line for a note: waiting, GC, and the heaviest functions. */
export function describeProfile(summary: ProfileSummary): string {
  const list = (rows: { fn: string; pct: number }[]): string => rows.map((r) => `${r.fn} ${r.pct} %`).join(', ');
  return (
    `CPU profile (${summary.sampledMs} ms sampled): ${summary.idlePct} % waiting, ${summary.gcPct} % GC; ` +
    `heaviest src functions with callees: ${list(summary.inclusive)}; by own time: ${list(summary.self)}.`
  );
}
