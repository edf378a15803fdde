import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Alert, Outbox } from './outbox.js';

export const NOTIFICATIONS_QUEUE = 'notifications';

/**
 * The `notifications` queue: any process publishes alerts; the process that owns the chat takes
 * them into the outbox, where the paced sender delivers them. Job ids are alert ids, so an alert
 * published twice is taken once.
 */
export class NotificationQueue {
  private readonly queue: Queue<Alert>;
  private worker: Worker<Alert> | null = null;

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.queue = new Queue<Alert>(NOTIFICATIONS_QUEUE, { connection, prefix });
    this.queue.on('error', (err) => this.logger.debug({ err: err.message }, 'notifications queue connection error'));
  }

  async publish(alert: Alert): Promise<void> {
    await this.queue.add('alert', alert, {
      jobId: alert.id,
      // Critical alerts are taken first (lower number = sooner).
      priority: alert.critical ? 1 : 2,
      attempts: 20,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3_600, count: 10_000 },
      removeOnFail: false,
    });
  }

  /** Moves queued alerts into the outbox; `onTaken` nudges the sender. */
  startIntake(outbox: Outbox, onTaken: () => void, workerConnection: Redis): void {
    this.worker = new Worker<Alert>(
      NOTIFICATIONS_QUEUE,
      async (job) => {
        await outbox.push(job.data);
        onTaken();
      },
      { connection: workerConnection, prefix: this.prefix, concurrency: 1 },
    );
    this.worker.on('error', (err) => this.logger.warn({ err: err.message }, 'notifications worker error'));
  }

  /** Alerts published but not yet taken into the outbox. */
  async pending(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
