import type { Logger } from 'pino';
import type { Alert, Outbox } from './outbox.js';

/** What one attempt to post a message into the ops chat gave. */
export type SendOutcome = { ok: true } | { ok: false; retryAfterMs?: number; permanent?: boolean; reason: string };

export type ChatSend = (text: string) => Promise<SendOutcome>;

export interface SenderPacing {
  /** Messages allowed into the group per window (Telegram: about 20 a minute). */
  maxPerWindow: number;
  windowMs: number;
  /** Least gap between two messages. */
  minGapMs: number;
  /** Longest wait between retries of a failing send. */
  maxBackoffMs: number;
  /** How often to look at the outbox when idle. */
  idlePollMs: number;
}

export const TELEGRAM_GROUP_PACING: SenderPacing = { maxPerWindow: 20, windowMs: 60_000, minGapMs: 1_000, maxBackoffMs: 30_000, idlePollMs: 200 };

const MAX_MESSAGE_CHARS = 4_000;
const BATCH = 500;

/**
 * Delivers the outbox to the ops chat under Telegram's limits. It sends one alert alone when it
 * is the only one waiting; when more wait, it folds them into a digest (critical alerts first,
 * identical repeats merged), so under a burst every event is represented and the group limit is
 * kept. A 429 waits its retry_after, other failures back off; an alert leaves the outbox only
 * after the chat accepted it, so nothing is dropped.
 */
export class AlertSender {
  private readonly sentAt: number[] = [];
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** A poke that came while the sender was busy, so its next idle pause is skipped. */
  private poked = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly send: ChatSend,
    private readonly logger: Logger,
    private readonly pacing: SenderPacing = TELEGRAM_GROUP_PACING,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Nudges the sender after an alert was queued. */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  /** Stops after the current send; with `drain`, first delivers everything queued. */
  async stop(options: { drain: boolean; timeoutMs?: number } = { drain: true }): Promise<void> {
    if (options.drain) {
      const deadline = Date.now() + (options.timeoutMs ?? 30_000);
      while ((await this.outbox.size()) > 0 && Date.now() < deadline) await this.pause(20);
    }
    this.running = false;
    this.poke();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const batch = await this.next();
        if (!batch) {
          await this.pause(this.pacing.idlePollMs);
          continue;
        }
        await this.waitForSlot();
        const outcome = await this.send(batch.text);
        if (outcome.ok || outcome.permanent) {
          if (!outcome.ok) this.logger.error({ reason: outcome.reason }, 'chat refused an alert; sent a plain notice instead');
          if (!outcome.ok) await this.sendPlainNotice(batch);
          this.sentAt.push(Date.now());
          await this.outbox.remove(batch.critical, batch.count);
          failures = 0;
          continue;
        }
        failures += 1;
        const waitMs = outcome.retryAfterMs ?? Math.min(500 * 2 ** (failures - 1), this.pacing.maxBackoffMs);
        this.logger.warn({ waitMs, reason: outcome.reason, failures }, 'alert not delivered yet; will retry');
        await this.pause(waitMs, false);
      } catch (err) {
        failures += 1;
        this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'alert sender error; retrying');
        await this.pause(Math.min(500 * 2 ** (failures - 1), this.pacing.maxBackoffMs), false);
      }
    }
  }

  /** The next message: one alert alone, or a digest of everything of the most urgent class. */
  private async next(): Promise<{ text: string; critical: boolean; count: number } | null> {
    for (const critical of [true, false]) {
      const alerts = await this.outbox.peek(critical, BATCH);
      if (alerts.length === 0) continue;
      if (alerts.length === 1 && alerts[0]) return { text: alerts[0].text, critical, count: 1 };
      return { ...digest(alerts, critical), critical };
    }
    return null;
  }

  private async sendPlainNotice(batch: { count: number }): Promise<void> {
    await this.send(`⚠️ ${batch.count} alert(s) could not be shown by Telegram; see the bot's log for their text.`);
  }

  /** Waits until a message fits both the window budget and the least gap. */
  private async waitForSlot(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.sentAt.length > 0 && (this.sentAt[0] ?? 0) <= now - this.pacing.windowMs) this.sentAt.shift();
      const last = this.sentAt.at(-1) ?? 0;
      const gapWait = last + this.pacing.minGapMs - now;
      const windowWait = this.sentAt.length >= this.pacing.maxPerWindow ? (this.sentAt[0] ?? now) + this.pacing.windowMs - now : 0;
      const waitMs = Math.max(gapWait, windowWait);
      if (waitMs <= 0) return;
      await this.pause(waitMs, false);
    }
  }

  private pause(ms: number, wakeable = true): Promise<void> {
    if (wakeable && this.poked) {
      this.poked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (wakeable) {
          this.wake = null;
          this.poked = false;
        }
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (wakeable) this.wake = done;
    });
  }
}

/**
 * Folds alerts into one message of at most MAX_MESSAGE_CHARS: identical texts in a row merge
 * into one line with a count; what does not fit waits for the next message.
 */
export function digest(alerts: readonly Alert[], critical: boolean): { text: string; count: number } {
  const header = critical ? '🚨 CRITICAL DIGEST' : '📋 DIGEST';
  const lines: string[] = [];
  let length = header.length + 40;
  let count = 0;
  let i = 0;
  while (i < alerts.length) {
    const text = alerts[i]?.text ?? '';
    let repeats = 1;
    while (alerts[i + repeats]?.text === text) repeats += 1;
    const line = repeats > 1 ? `${text} (×${repeats})` : text;
    if (count > 0 && length + line.length + 1 > MAX_MESSAGE_CHARS) break;
    lines.push(line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS - 1)}…` : line);
    length += line.length + 1;
    count += repeats;
    i += repeats;
  }
  return { text: [`${header}: ${count} event(s)`, ...lines].join('\n'), count };
}
