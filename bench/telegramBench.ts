import { Decimal } from '../src/engine/index.js';
import { ADMIN, OPS_CHAT, startTelegramAppOn, type TelegramApp } from '../tests/support/telegramAppCore.js';
import { freshPrefix } from './engineBench.js';
import { collect } from './stats.js';


/** Alert pacing for the delivery figure: no least gap and no per-minute cap, so it shows the pipeline, not the pacing. */
export const ALERT_BENCH_PACING = { ALERT_MIN_GAP_MS: '0', ALERT_MAX_PER_MINUTE: '100000' } as const;

export type TelegramBench = TelegramApp;

/** The whole app in this process against the emulator (the tests' harness), on the bench's Redis. */
export function startTelegramBench(redisUrl: string, env: Record<string, string> = {}): Promise<TelegramBench> {
  return startTelegramAppOn(redisUrl, { REDIS_PREFIX: freshPrefix('t'), ...ALERT_BENCH_PACING, ...env });
}

/** Opens a few hedges through the facade so /status has rows to compute and print, as in use. */
async function openSomeHedges(t: TelegramBench, coins: readonly string[]): Promise<void> {
  const by = { userId: String(ADMIN.id), name: '@alice', chatId: String(OPS_CHAT) };
  for (const coin of coins) {
    const preview = await t.app.engine.previewOpen(coin, new Decimal(1_000), by);
    await t.app.engine.confirm(preview.operation.id, by);
  }
  // Their fill alerts go out first, so they do not share the measured window.
  await t.emulator.waitFor((m) => m.chat_id === String(OPS_CHAT) && m.text.includes(coins.at(-1) ?? '') && m.text.includes('FILLED'));
}

/** /status typed in the ops group → long poll → router → engine.status → sendMessage at the emulator. */
export async function benchStatus(t: TelegramBench, options: { runs: number; warmup: number; budgetMs: number; hedges: readonly string[] }): Promise<number[]> {
  await openSomeHedges(t, options.hedges);
  return collect(options.runs, options.warmup, async () => {
    const start = performance.now();
    const { messageId } = t.emulator.sendText(ADMIN, OPS_CHAT, '/status');
    const reply = await t.emulator.waitFor((m) => m.reply_to_message_id === messageId);
    const elapsed = performance.now() - start;
    if (!reply.text.includes('Mode PAPER')) throw new Error(`bench: /status answered ${reply.text.slice(0, 80)}`);
    return elapsed;
  }, options.budgetMs);
}

/**
 * An engine event (a critical error alert, the kind that must reach people fastest) emitted on
 * the engine's event bus → toAlert → notifications queue (BullMQ) → Redis outbox → paced sender →
 * sendMessage at the emulator.
 */
export async function benchAlert(t: TelegramBench, options: { runs: number; warmup: number; budgetMs: number; gapMs?: number }): Promise<number[]> {
  return collect(options.runs, options.warmup, async (index) => {
    // With a gap the sender is idle, waiting to be woken, when the event comes; without, it is
    // still finishing the previous alert, as in a burst.
    if (options.gapMs) await new Promise((resolve) => setTimeout(resolve, options.gapMs));
    const marker = `bench-alert-${index < 0 ? `w${-index}` : index}-${Date.now().toString(36)}`;
    const start = performance.now();
    t.app.engine.events.emit({ type: 'error', critical: true, operation: null, code: 'BENCH', message: marker });
    await t.emulator.waitFor((m) => m.chat_id === String(OPS_CHAT) && m.text.includes(marker));
    return performance.now() - start;
  }, options.budgetMs);
}
