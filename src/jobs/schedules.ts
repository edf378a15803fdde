import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Engine } from '../engine/index.js';

export interface ScheduledJob {
  name: string;
  everyMs: number;
  run: (engine: Engine) => Promise<unknown>;
}

/**
 * The periodic work: funding scan, accrual and the check of live hedges' funding against what the
 * venue paid; and the delta check over every open hedge.
 */
export function scheduledJobs(fundingScanMs: number, deltaCheckMs: number): ScheduledJob[] {
  return [
    {
      name: 'funding-scan',
      everyMs: fundingScanMs,
      run: async (engine) => {
        await engine.scanFunding();
        const booked = await engine.accrueFunding();
        const checks = await engine.checkFundingPayments();
        return { booked, fundingChecks: checks.map((c) => `${c.position.coin} ${c.outcome}`) };
      },
    },
    { name: 'delta-check', everyMs: deltaCheckMs, run: (engine) => engine.checkDeltas() },
  ];
}

const lastRunKey = (name: string): string => `job:last-run:${name}`;

/**
 * Each scheduled job is a BullMQ queue with a job scheduler, so exactly one run per interval
 * happens across all worker processes; every run stamps its time for the watchdog.
 */
export class Schedules {
  private readonly queues: Queue[] = [];
  private readonly workers: Worker[] = [];

  constructor(
    private readonly jobs: readonly ScheduledJob[],
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  /** Registers the schedulers (idempotent) and starts their workers. */
  async start(engine: Engine, connection: () => Redis): Promise<void> {
    for (const job of this.jobs) {
      const queue = new Queue(job.name, { connection: connection(), prefix: this.prefix });
      queue.on('error', (err) => this.logger.debug({ job: job.name, err: err.message }, 'schedule queue connection error'));
      this.queues.push(queue);
      await queue.upsertJobScheduler(job.name, { every: job.everyMs }, { name: job.name, opts: { removeOnComplete: 100, removeOnFail: 100 } });
      const worker = new Worker(
        job.name,
        async () => {
          await engine.markJobRun(lastRunKey(job.name));
          return job.run(engine);
        },
        { connection: connection(), prefix: this.prefix, concurrency: 1 },
      );
      worker.on('failed', (_job, err) => this.logger.warn({ job: job.name, err: err.message }, 'scheduled job failed'));
      worker.on('error', (err) => this.logger.warn({ job: job.name, err: err.message }, 'scheduled job worker error'));
      this.workers.push(worker);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all(this.queues.map((q) => q.close()));
  }
}

/**
 * Alerts when a scheduled job has not run for three of its intervals (workers down, Redis
 * trouble), once per incident, and again when it runs again.
 */
export class Watchdog {
  private readonly late = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAtMs: number;

  constructor(
    private readonly jobs: readonly ScheduledJob[],
    private readonly engine: Engine,
    private readonly alert: (id: string, text: string, critical: boolean) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.startedAtMs = engine.nowMs();
  }

  start(checkEveryMs: number): void {
    this.timer = setInterval(() => void this.check().catch((err: unknown) => this.logger.warn({ err }, 'watchdog check failed')), checkEveryMs);
  }

  async check(nowMs = this.engine.nowMs()): Promise<void> {
    for (const job of this.jobs) {
      const lastRunMs = (await this.engine.jobLastRun(lastRunKey(job.name))) ?? this.startedAtMs;
      const overdue = nowMs - lastRunMs > 3 * job.everyMs;
      if (overdue && !this.late.has(job.name)) {
        this.late.add(job.name);
        const seconds = Math.round((nowMs - lastRunMs) / 1000);
        await this.alert(`watchdog-${job.name}-${lastRunMs}`, `🚨 WATCHDOG: ${job.name} has not run for ${seconds} s (every ${job.everyMs / 1000} s expected); check the workers`, true);
      } else if (!overdue && this.late.has(job.name)) {
        this.late.delete(job.name);
        await this.alert(`watchdog-${job.name}-ok-${lastRunMs}`, `✅ WATCHDOG: ${job.name} runs again`, false);
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
