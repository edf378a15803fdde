import { Redis } from 'ioredis';

/**
 * BullMQ wants its own connections with no per-request retry limit (blocking commands wait for
 * jobs); ioredis reconnects on its own with a capped backoff, so a Redis restart is ridden out.
 */
export function bullConnection(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

/** BullMQ prefixes keys with `<prefix>:<queue>`; ours ends with ':' for plain keys, so trim it. */
export function bullPrefix(prefix: string): string {
  return `${prefix.replace(/:$/, '')}:bull`;
}
