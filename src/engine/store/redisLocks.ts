import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { BotError } from '../domain/errors.js';
import { runHolding, type LockLease, type Locks } from '../position/locks.js';
import { STORE_RETRY } from './redisStore.js';

const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXTEND_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * Locks held in Redis, so work on one coin runs one at a time across every worker process. A
 * lock expires on its own if its holder dies, and is renewed while the work runs.
 */
export class RedisLocks implements Locks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly options: { ttlMs: number; waitMs: number; pollMs: number } = { ttlMs: 15_000, waitMs: 120_000, pollMs: 25 },
  ) {}

  /** Locks on a client of their own. */
  static connect(url: string, prefix: string, ttlMs = 15_000): { locks: RedisLocks; close: () => Promise<void> } {
    const redis = new Redis(url, STORE_RETRY);
    redis.on('error', () => undefined);
    return { locks: new RedisLocks(redis, prefix, { ttlMs, waitMs: 120_000, pollMs: 25 }), close: async () => void (await redis.quit()) };
  }

  async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const name = `${this.prefix}lock:${key}`;
    const token = randomBytes(12).toString('hex');
    const deadline = Date.now() + this.options.waitMs;
    let askedAtMs = Date.now();
    while ((await this.redis.set(name, token, 'PX', this.options.ttlMs, 'NX')) !== 'OK') {
      if (Date.now() > deadline) {
        throw new BotError('LOCK_BUSY', `${key.replace('coin:', '')} is busy with another operation; try again shortly`, 'retry');
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
      askedAtMs = Date.now();
    }
    // The lock is ours until ttl after the last time Redis confirmed it (taken or renewed). A
    // renewal that finds another token, or none confirmed in time (a stalled Redis, a paused
    // process), means another process may hold it now: the lease says so, and the holder stops
    // before its next order (assertLocksHeld).
    const ttlMs = this.options.ttlMs;
    let confirmedAtMs = askedAtMs;
    let lost: string | null = null;
    const lease: LockLease = {
      key,
      lostReason: () => lost ?? (Date.now() - confirmedAtMs >= ttlMs ? `not renewed for ${Date.now() - confirmedAtMs} ms` : null),
    };
    const renew = setInterval(() => {
      const sentAtMs = Date.now();
      this.redis.eval(EXTEND_LUA, 1, name, token, String(ttlMs)).then(
        (extended) => {
          if (Number(extended) === 1) confirmedAtMs = Math.max(confirmedAtMs, sentAtMs);
          else lost ??= 'another process holds it';
        },
        () => undefined,
      );
    }, Math.floor(ttlMs / 3));
    try {
      return await runHolding(lease, work);
    } finally {
      clearInterval(renew);
      await this.redis.eval(RELEASE_LUA, 1, name, token);
    }
  }
}
