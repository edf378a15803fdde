import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Watchdog, scheduledJobs } from '../../src/jobs/schedules.js';
import { startTestEngine } from '../support/engineHarness.js';

describe('Watchdog', () => {
  it('alerts once when a scheduled job missed three intervals, and once when it runs again', async () => {
    const { engine } = await startTestEngine();
    const jobs = scheduledJobs(60_000, 15_000);
    const alerts: { text: string; critical: boolean }[] = [];
    const watchdog = new Watchdog(jobs, engine, (_id, text, critical) => Promise.resolve(void alerts.push({ text, critical })), pino({ level: 'silent' }));
    const t0 = Date.now();
    await engine.markJobRun('job:last-run:funding-scan');
    await engine.markJobRun('job:last-run:delta-check');
    const lastRun = (await engine.jobLastRun('job:last-run:delta-check')) ?? 0;
    await watchdog.check(lastRun + 44_000);
    expect(alerts).toEqual([]);
    await watchdog.check(lastRun + 46_000);
    await watchdog.check(lastRun + 50_000);
    expect(alerts).toEqual([{ text: expect.stringMatching(/WATCHDOG: delta-check has not run for 46 s \(every 15 s expected\)/) as unknown, critical: true }]);
    await engine.markJobRun('job:last-run:delta-check');
    await watchdog.check((await engine.jobLastRun('job:last-run:delta-check')) ?? t0);
    expect(alerts.at(-1)).toEqual({ text: '✅ WATCHDOG: delta-check runs again', critical: false });
    expect(alerts).toHaveLength(2);
  });

  it('alerts each incident of failed runs once, and takes a failed run as a run, not as silence', async () => {
    const { engine, clock } = await startTestEngine();
    const [fundingScan] = scheduledJobs(60_000, 15_000);
    const alerts: string[] = [];
    const watchdog = new Watchdog([fundingScan!], engine, (_id, text) => Promise.resolve(void alerts.push(text)), pino({ level: 'silent' }));
    const failed = (count: number, sinceMs: number) =>
      engine.putSetting('job-failures:funding-scan', { count, sinceMs, lastAtMs: engine.nowMs(), lastError: 'venue said no' });
    await failed(2, engine.nowMs());
    await watchdog.check();
    expect(alerts).toEqual([]);
    // Failing for 4 minutes, each run on time: no "has not run" alert, one failure alert.
    await clock.advance(240_000);
    await failed(6, engine.nowMs() - 240_000);
    await watchdog.check();
    await watchdog.check();
    expect(alerts).toEqual(['🚨 WATCHDOG: funding-scan failed 6 runs in a row; last error: venue said no']);
    // A success came in between, then three new failures: the old incident is over, a new one starts.
    await clock.advance(60_000);
    await failed(3, engine.nowMs());
    await watchdog.check();
    expect(alerts.slice(1)).toEqual(['✅ WATCHDOG: funding-scan runs OK again', '🚨 WATCHDOG: funding-scan failed 3 runs in a row; last error: venue said no']);
    // A successful run, as Schedules records it.
    await engine.markJobRun('job:last-run:funding-scan');
    await engine.putSetting('job-failures:funding-scan', null);
    await watchdog.check();
    expect(alerts.slice(3)).toEqual(['✅ WATCHDOG: funding-scan runs OK again']);
  });
});
