import { Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Engine, Requester } from '../engine/index.js';
import { BotError } from '../engine/index.js';

export const OPERATIONS_QUEUE = 'operations';

export interface OperationJob {
  operationId: string;
  requestedBy: Requester;
}

export interface OperationJobResult {
  operationId: string;
  state: string;
  positionId: string | null;
}

/**
 * The `operations` queue: confirmed opens and closes run as jobs whose id is the operation id, so
 * a duplicate submission is the same job. Any worker process may run them; the engine's Redis
 * lock keeps one coin to one operation at a time. Refusals end the job without retry.
 */
export class OperationQueue {
  private readonly queue: Queue<OperationJob, OperationJobResult>;
  private events: QueueEvents | null = null;
  private worker: Worker<OperationJob, OperationJobResult> | null = null;

  constructor(
    connection: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.queue = new Queue<OperationJob, OperationJobResult>(OPERATIONS_QUEUE, { connection, prefix });
    this.queue.on('error', (err) => this.logger.debug({ err: err.message }, 'operations queue connection error'));
    // Every caller waiting for its operation adds a listener; many at once is normal here.
    this.queue.setMaxListeners(0);
  }

  /** Submits (or finds) the job of an operation and waits up to `waitMs` for its result. */
  async run(job: OperationJob, waitMs: number, eventsConnection: () => Redis): Promise<OperationJobResult> {
    if (!this.events) {
      this.events = new QueueEvents(OPERATIONS_QUEUE, { connection: eventsConnection(), prefix: this.prefix });
      this.events.on('error', (err) => this.logger.debug({ err: err.message }, 'operations events connection error'));
      this.events.setMaxListeners(0);
    }
    await this.events.waitUntilReady();
    const added = await this.queue.add('run', job, {
      jobId: job.operationId,
      attempts: 3,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 86_400 },
    });
    return added.waitUntilFinished(this.events, waitMs);
  }

  startWorker(engine: Engine, connection: Redis, concurrency: number): void {
    this.worker = new Worker<OperationJob, OperationJobResult>(
      OPERATIONS_QUEUE,
      async (job) => {
        const { operationId, requestedBy } = job.data;
        const log = this.logger.child({ operationId, jobId: job.id, attempt: job.attemptsMade + 1 });
        try {
          const op = await engine.getOperation(operationId);
          if (!op) throw new UnrecoverableError(`no operation ${operationId}`);
          if (op.state === 'requested') {
            const { operation, position } = await engine.confirm(operationId, requestedBy);
            return { operationId, state: operation.state, positionId: position?.id ?? null };
          }
          // A retried or stalled job whose operation already started: finish it, never re-place.
          if (op.state === 'confirmed' || op.state === 'placing') await engine.resume(operationId);
          const latest = await engine.getOperation(operationId);
          return { operationId, state: latest?.state ?? op.state, positionId: latest?.positionId ?? null };
        } catch (err) {
          if (err instanceof BotError && err.reaction === 'retry') throw err;
          log.info({ err: err instanceof Error ? err.message : String(err) }, 'operation ended without retry');
          throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
        }
      },
      { connection, prefix: this.prefix, concurrency },
    );
    this.worker.on('error', (err) => this.logger.warn({ err: err.message }, 'operations worker error'));
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.events?.close();
    await this.queue.close();
  }
}
