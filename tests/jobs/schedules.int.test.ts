import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { bullConnection, bullPrefix } from '../../src/jobs/connection.js';
import { FAILED_RUNS_ALERT, Schedules, Watchdog, type ScheduledJob } from '../../src/jobs/schedules.js';
import { startTestEngine } from '../support/engineHarness.js';
import { randomPrefix, testRedisUrl } from '../support/redis.js';
import { OPS_CHAT, startTelegramApp, type TelegramApp } from '../support/telegramApp.js';

let t: TelegramApp | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

describe('scheduled jobs on BullMQ', () => {
  it('runs the funding scan and delta check on their schedule, stores the scan, and alerts a threshold crossing once', async () => {
    t = await startTelegramApp({ FUNDING_SCAN_MS: '300', DELTA_CHECK_MS: '300', FUNDING_ALERT_APR_PCT: '10', ALERT_MIN_GAP_MS: '0' });
    const app = t;
    const deadline = Date.now() + 10_000;
    while (((await app.app.engine.jobLastRun('job:last-run:funding-scan')) === null || (await app.app.engine.jobLastRun('job:last-run:delta-check')) === null) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await app.app.engine.jobLastRun('job:last-run:funding-scan')).not.toBeNull();
    expect(await app.app.engine.jobLastRun('job:last-run:delta-check')).not.toBeNull();
    expect((await app.app.engine.topFunding(3)).length).toBe(3);
    const alert = await app.emulator.waitFor((m) => m.chat_id === String(OPS_CHAT) && /FUNDING above 10\.0% net APR/.test(m.text));
    // Several more scans run; coins that stay above the threshold are not announced again.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const announced = app.emulator.inChat(OPS_CHAT).filter((m) => /FUNDING above/.test(m.text));
    const coins = announced.flatMap((m) => [...m.text.matchAll(/(\w+) [\d.]+% \(every/g)].map((x) => x[1]));
    expect(new Set(coins).size).toBe(coins.length);
    expect(alert.text).toMatch(/every \d+h/);
  });
});

describe('a scheduled job that fails every run', () => {
  it('is not stamped as run, and the watchdog alerts it once after three failures, redacted, then when it runs OK again', async () => {
    const { engine } = await startTestEngine();
    const token = '123456789:AAHsecretsecretsecretsecretsecret01';
    let failWith: string | null = `venue refused the API key (bot${token})`;
    let runs = 0;
    const job: ScheduledJob = {
      name: 'always-failing',
      everyMs: 100,
      run: () => {
        runs += 1;
        return failWith === null ? Promise.resolve('ok') : Promise.reject(new Error(failWith));
      },
    };
    const connections: Redis[] = [];
    const connect = () => {
      const connection = bullConnection(testRedisUrl());
      connections.push(connection);
      return connection;
    };
    const logger = pino({ level: 'silent' });
    const schedules = new Schedules([job], bullPrefix(randomPrefix()), logger);
    const alerts: { id: string; text: string; critical: boolean }[] = [];
    const watchdog = new Watchdog([job], engine, (id, text, critical) => Promise.resolve(void alerts.push({ id, text, critical })), logger);
    const until = async (done: () => boolean): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!done() && Date.now() < deadline) {
        await watchdog.check();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    try {
      await schedules.start(engine, connect);
      await until(() => alerts.length > 0);
      expect(runs).toBeGreaterThanOrEqual(FAILED_RUNS_ALERT);
      expect(await engine.jobLastRun('job:last-run:always-failing')).toBeNull();
      expect(alerts).toEqual([{ id: expect.stringMatching(/^watchdog-always-failing-failing-/) as unknown, text: expect.stringMatching(/^🚨 WATCHDOG: always-failing failed \d+ runs in a row; last error: venue refused the API key/) as unknown, critical: true }]);
      expect(Number(/failed (\d+) runs/.exec(alerts[0]!.text)?.[1])).toBeGreaterThanOrEqual(FAILED_RUNS_ALERT);
      expect(alerts[0]!.text).not.toContain(token.split(':')[1]);
      // Once per incident: more failed runs, no more alerts.
      const seen = runs;
      await until(() => runs >= seen + 2);
      expect(alerts).toHaveLength(1);

      failWith = null;
      await until(() => alerts.length > 1);
      expect(await engine.jobLastRun('job:last-run:always-failing')).not.toBeNull();
      expect(alerts.slice(1)).toEqual([{ id: expect.any(String) as unknown, text: '✅ WATCHDOG: always-failing runs OK again', critical: false }]);
    } finally {
      await schedules.close();
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    }
  });
});
