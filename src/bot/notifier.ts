import type { Logger } from 'pino';
import type { EngineEvent } from '../engine/index.js';
import { formatEvent } from './format.js';

export type AlertSink = (text: string) => Promise<void>;

/**
 * Sends engine events to the ops chat one at a time, in order, critical ones ahead of routine
 * ones still waiting. A failed send is retried with backoff; nothing is dropped. (The BullMQ
 * notifications queue takes this role when the bot runs with workers.)
 */
export class Notifier {
  private readonly critical: string[] = [];
  private readonly routine: string[] = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly sink: AlertSink,
    private readonly logger: Logger,
    private readonly retryDelayMs = 1_000,
  ) {}

  readonly onEvent = (event: EngineEvent): void => {
    (event.critical ? this.critical : this.routine).push(formatEvent(event));
    this.running ??= this.pump().finally(() => {
      this.running = null;
    });
  };

  /** Resolves once every queued alert has been sent. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async pump(): Promise<void> {
    for (;;) {
      const text = this.critical.shift() ?? this.routine.shift();
      if (text === undefined) return;
      for (let attempt = 1; ; attempt += 1) {
        try {
          await this.sink(text);
          break;
        } catch (err) {
          this.logger.warn({ attempt, err: err instanceof Error ? err.message : String(err) }, 'alert send failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, Math.min(this.retryDelayMs * attempt, 30_000)));
        }
      }
    }
  }
}
