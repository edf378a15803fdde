import { afterEach, describe, expect, it } from 'vitest';
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
