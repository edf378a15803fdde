import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Engine } from '../engine/index.js';
import { redactSecrets } from '../logger.js';

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
const failuresKey = (name: string): string => `job-failures:${name}`;

/** The watchdog alerts a job after this many failed runs in a row. */
export const FAILED_RUNS_ALERT = 3;

/** A scheduled job's failed runs since its last successful one; cleared by a success. */
export interface JobFailures {
  count: number;
  /** When the first of them failed: it names the incident. */
  sinceMs: number;
  lastAtMs: number;
  /** Redacted and cut short: it is stored and sent to the ops chat. */
  lastError: string;
}

/**
 * Each scheduled job is a BullMQ queue with a job scheduler, so exactly one run per interval
 * happens across all worker processes. A successful run stamps its time for the watchdog; a failed
 * one counts, so a job that throws every run is seen too.
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
          let result: unknown;
          try {
            result = await job.run(engine);
          } catch (err) {
            await this.recordFailure(engine, job.name, err);
            throw err;
          }
          await engine.markJobRun(lastRunKey(job.name));
          await engine.putSetting(failuresKey(job.name), null);
          return result;
        },
        { connection: connection(), prefix: this.prefix, concurrency: 1 },
      );
      worker.on('failed', (_job, err) => this.logger.warn({ job: job.name, err: err.message }, 'scheduled job failed'));
      worker.on('error', (err) => this.logger.warn({ job: job.name, err: err.message }, 'scheduled job worker error'));
      this.workers.push(worker);
    }
  }

  private async recordFailure(engine: Engine, name: string, err: unknown): Promise<void> {
    try {
      const previous = await engine.getSetting<JobFailures>(failuresKey(name));
      const nowMs = engine.nowMs();
      const lastError = redactSecrets(err instanceof Error ? err.message : String(err)).slice(0, 300);
      const failures: JobFailures = { count: (previous?.count ?? 0) + 1, sinceMs: previous?.sinceMs ?? nowMs, lastAtMs: nowMs, lastError };
      await engine.putSetting(failuresKey(name), failures);
    } catch (recordErr) {
      this.logger.warn({ job: name, err: recordErr instanceof Error ? recordErr.message : String(recordErr) }, 'could not count a failed scheduled run');
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all(this.queues.map((q) => q.close()));
  }
}

/**
 * Alerts, once per incident and again when it is over, when a scheduled job has not run for three
 * of its intervals (workers down, Redis trouble), and when its last FAILED_RUNS_ALERT runs or more
 * all failed (a revoked API key, a venue refusing every call).
 */
export class Watchdog {
  private readonly late = new Set<string>();
  /** Jobs alerted as failing, with the incident's first failure time. */
  private readonly failing = new Map<string, number>();
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
      const failures = await this.engine.getSetting<JobFailures>(failuresKey(job.name));
      await this.checkFailures(job, failures);
      // A failed run is still a run: that it fails is the other alert's business.
      const lastRunMs = Math.max((await this.engine.jobLastRun(lastRunKey(job.name))) ?? this.startedAtMs, failures?.lastAtMs ?? 0);
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

  private async checkFailures(job: ScheduledJob, failures: JobFailures | null): Promise<void> {
    const alertedSinceMs = this.failing.get(job.name);
    // Cleared, or a new incident: a successful run came in between.
    if (alertedSinceMs !== undefined && failures?.sinceMs !== alertedSinceMs) {
      this.failing.delete(job.name);
      await this.alert(`watchdog-${job.name}-ok-${alertedSinceMs}`, `✅ WATCHDOG: ${job.name} runs OK again`, false);
    }
    if (failures && failures.count >= FAILED_RUNS_ALERT && !this.failing.has(job.name)) {
      this.failing.set(job.name, failures.sinceMs);
      const text = `🚨 WATCHDOG: ${job.name} failed ${failures.count} runs in a row; last error: ${redactSecrets(failures.lastError)}`;
      await this.alert(`watchdog-${job.name}-failing-${failures.sinceMs}`, text, true);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
