import { afterEach, describe, expect, it } from 'vitest';
import { Decimal, type EngineEvent } from '../../src/engine/index.js';
import { OPS_CHAT, startTelegramApp, type TelegramApp } from '../support/telegramApp.js';
import { recordOutcome } from './support/outcomes.js';

let t: TelegramApp | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

function critical(n: number): EngineEvent {
  return { type: 'error', critical: true, operation: null, code: 'TEST', message: `event #${n}#` };
}

function routine(n: number): EngineEvent {
  return { type: 'opportunity', critical: false, thresholdPct: new Decimal(20), rows: [{ coin: `C${n}`, rate: new Decimal('0.001'), intervalHours: 8, nextFundingTimeMs: 0, fundingAprPct: new Decimal(109), netAprPct: new Decimal(90), breakEvenHours: null }] };
}

/** Event numbers in the order the ops chat shows them, across every message. */
function delivered(app: TelegramApp): number[] {
  const numbers: number[] = [];
  for (const message of app.emulator.inChat(OPS_CHAT)) {
    for (const match of message.text.matchAll(/#(\d+)#|\bC(\d+) 90\.0%/g)) numbers.push(Number(match[1] ?? match[2]));
  }
  return numbers;
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('alert delivery to the ops chat (BullMQ → outbox → paced sender → telegraf → Bot API)', () => {
  it('rides out a 429 storm: every alert once, in order', async () => {
    t = await startTelegramApp({ ALERT_MIN_GAP_MS: '0' });
    t.emulator.failNext('sendMessage', 6, 429, 1);
    for (let n = 1; n <= 8; n += 1) {
      t.app.engine.events.emit(critical(n));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const app = t;
    await until(() => delivered(app).length >= 8, 20_000);
    expect(delivered(app)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const attempts = app.emulator.calls.filter((c) => c === 'sendMessage').length;
    expect(attempts).toBeGreaterThan(6);
    recordOutcome({ group: 'Telegram', fault: '429 storm: 6 sendMessage calls in a row answered 429 retry_after=1 while 8 alerts were queued', tries: 8, outcome: `all 8 delivered once, in order, in ${app.emulator.inChat(OPS_CHAT).length} messages after ${attempts} attempts`, passed: true });
  });

  it('rides out a 30 s Bot API outage: every alert once, in order', async () => {
    t = await startTelegramApp({ ALERT_MIN_GAP_MS: '0', ALERT_MAX_BACKOFF_MS: '2000' });
    const app = t;
    app.app.engine.events.emit(critical(1));
    await until(() => delivered(app).length === 1, 5_000);
    app.emulator.outage(30_000);
    for (let n = 2; n <= 12; n += 1) {
      app.app.engine.events.emit(n % 3 === 0 ? routine(n) : critical(n));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    expect(delivered(app)).toEqual([1]);
    await until(() => delivered(app).length >= 12, 20_000);
    const got = delivered(app);
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Within each class the order is kept; critical ones are never behind routine ones queued with them.
    const criticalOrder = got.filter((n) => n % 3 !== 0);
    expect(criticalOrder).toEqual([...criticalOrder].sort((a, b) => a - b));
    const routineOrder = got.filter((n) => n % 3 === 0);
    expect(routineOrder).toEqual([...routineOrder].sort((a, b) => a - b));
    recordOutcome({ group: 'Telegram', fault: '30 s Bot API outage (connections dropped) with 11 alerts raised during it', tries: 12, outcome: `all 12 delivered once after the outage, order kept within critical and routine alerts, in ${app.emulator.inChat(OPS_CHAT).length} messages`, passed: true });
  }, 60_000);

  it('folds a burst of 200 events into at most 20 messages, critical first, none lost', async () => {
    t = await startTelegramApp({ ALERT_MAX_PER_MINUTE: '20', ALERT_MIN_GAP_MS: '1000' });
    const app = t;
    for (let n = 1; n <= 200; n += 1) {
      app.app.engine.events.emit(n % 10 === 0 ? critical(n) : routine(n));
      if (n % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await until(() => delivered(app).length >= 200, 30_000);
    const messages = app.emulator.inChat(OPS_CHAT);
    expect(messages.length).toBeLessThanOrEqual(20);
    const got = delivered(app);
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // The critical digest goes out before the routine backlog that was waiting with it.
    const firstCriticalDigest = messages.findIndex((m) => m.text.startsWith('🚨 CRITICAL DIGEST'));
    const lastRoutine = messages.map((m, i) => (m.text.startsWith('📋 DIGEST') ? i : -1)).filter((i) => i >= 0);
    expect(firstCriticalDigest).toBeGreaterThanOrEqual(0);
    expect(lastRoutine.length).toBeGreaterThan(0);
    expect(firstCriticalDigest).toBeLessThan(Math.max(...lastRoutine));
    recordOutcome({ group: 'Telegram', fault: 'burst of 200 events (20 critical) within about a second, group limit 20 messages a minute', tries: 200, outcome: `all 200 delivered in ${messages.length} messages (digests), critical digest before the routine backlog`, passed: true });
  }, 60_000);
});
