import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Engine, Requester } from '../engine/index.js';
import { AlertSender, TELEGRAM_GROUP_PACING, type ChatSend, type SenderPacing } from './alertSender.js';
import { bullConnection, bullPrefix } from './connection.js';
import { NotificationQueue } from './notificationQueue.js';
import { OperationQueue, type OperationJobResult } from './operationQueue.js';
import { Outbox, type Alert } from './outbox.js';
import { Schedules, Watchdog, scheduledJobs } from './schedules.js';

export type Role = 'all' | 'bot' | 'worker';

export interface JobRuntimeOptions {
  redisUrl: string;
  /** Key prefix of the deployment (the store's); queues live under `<prefix>bull`. */
  prefix: string;
  role: Role;
  engine: Engine;
  logger: Logger;
  fundingScanMs: number;
  deltaCheckMs: number;
  /** Operations run at once by this worker (different coins; one coin is always one at a time). */
  operationConcurrency: number;
  /** How to post into the ops chat; needed where the chat front runs (roles all and bot). */
  chatSend?: ChatSend;
  pacing?: SenderPacing;
  watchdogEveryMs?: number;
}

/**
 * All BullMQ work of one process, by role: `bot` takes alerts into the outbox, sends them and
 * watches the schedules; `worker` runs operations and scheduled jobs; `all` does both. Every
 * role publishes its engine's alerts and may submit operations.
 */
export class JobRuntime {
  private readonly connections: Redis[] = [];
  private readonly queueConnection: Redis;
  private readonly notifications: NotificationQueue;
  private readonly operations: OperationQueue;
  private readonly bullPrefix: string;
  private schedules: Schedules | null = null;
  private sender: AlertSender | null = null;
  private watchdog: Watchdog | null = null;

  constructor(private readonly options: JobRuntimeOptions) {
    this.bullPrefix = bullPrefix(options.prefix);
    this.queueConnection = this.connect();
    this.notifications = new NotificationQueue(this.queueConnection, this.bullPrefix, options.logger);
    this.operations = new OperationQueue(this.queueConnection, this.bullPrefix, options.logger);
  }

  async start(): Promise<void> {
    const { role, engine, logger } = this.options;
    const jobs = scheduledJobs(this.options.fundingScanMs, this.options.deltaCheckMs);
    if (role !== 'worker') {
      if (!this.options.chatSend) throw new Error(`role ${role} needs a chat to send alerts to`);
      const outbox = new Outbox(this.queueConnection, this.options.prefix);
      this.sender = new AlertSender(outbox, this.options.chatSend, logger, this.options.pacing ?? TELEGRAM_GROUP_PACING);
      this.notifications.startIntake(outbox, () => this.sender?.poke(), this.connect());
      this.sender.start();
      this.watchdog = new Watchdog(jobs, engine, (id, text, critical) => this.publish({ id, type: 'watchdog', critical, text, createdAtMs: Date.now() }), logger);
      this.watchdog.start(this.options.watchdogEveryMs ?? 5_000);
    }
    if (role !== 'bot') {
      this.operations.startWorker(engine, this.connect(), this.options.operationConcurrency);
      this.schedules = new Schedules(jobs, this.bullPrefix, logger);
      await this.schedules.start(engine, () => this.connect());
    }
  }

  publish(alert: Alert): Promise<void> {
    return this.notifications.publish(alert);
  }

  /** Runs a confirmed operation as a job (id = operation id) and waits for its result. */
  runOperation(operationId: string, requestedBy: Requester, waitMs = 120_000): Promise<OperationJobResult> {
    return this.operations.run({ operationId, requestedBy }, waitMs, () => this.connect());
  }

  /** Stops taking work, lets running jobs finish, delivers queued alerts, closes connections. */
  async stop(): Promise<void> {
    this.watchdog?.stop();
    await this.schedules?.close();
    await this.operations.close();
    // Alerts published until now are taken into the outbox before the sender drains it.
    const deadline = Date.now() + 10_000;
    while (this.sender && (await this.notifications.pending()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await this.sender?.stop({ drain: true, timeoutMs: 10_000 });
    await this.notifications.close();
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private connect(): Redis {
    const connection = bullConnection(this.options.redisUrl);
    connection.on('error', (err) => this.options.logger.debug({ err: err.message }, 'job connection error'));
    this.connections.push(connection);
    return connection;
  }
}
