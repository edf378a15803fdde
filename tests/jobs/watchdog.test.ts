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
});
