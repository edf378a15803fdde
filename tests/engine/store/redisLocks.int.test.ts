import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisLocks } from '../../../src/engine/store/redisLocks.js';
import { assertLocksHeld } from '../../../src/engine/position/locks.js';
import { startRedisServer } from '../../../src/infra/redisServer.js';
import { locksContract } from '../position/locks.contract.js';
import { randomPrefix, testRedisUrl } from '../../support/redis.js';

const clients: Redis[] = [];
function client(): Redis {
  const redis = new Redis(testRedisUrl());
  clients.push(redis);
  return redis;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()));
});

locksContract('RedisLocks (two clients, as two worker processes)', () => {
  const prefix = randomPrefix();
  return Promise.resolve([new RedisLocks(client(), prefix), new RedisLocks(client(), prefix)]);
});

describe('RedisLocks', () => {
  it('frees a lock whose holder died once its ttl passes', async () => {
    const prefix = randomPrefix();
    const redis = client();
    // A holder that died mid-work: its key stays until the ttl runs out.
    await redis.set(`${prefix}lock:coin:BTC`, 'dead-holder', 'PX', 200);
    const locks = new RedisLocks(redis, prefix, { ttlMs: 1_000, waitMs: 5_000, pollMs: 10 });
    const started = Date.now();
    await locks.withLock('coin:BTC', () => Promise.resolve());
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('keeps a long-running holder’s lock alive past its ttl', async () => {
    const prefix = randomPrefix();
    const options = { ttlMs: 150, waitMs: 5_000, pollMs: 10 };
    const a = new RedisLocks(client(), prefix, options);
    const b = new RedisLocks(client(), prefix, options);
    const trace: string[] = [];
    const long = a.withLock('coin:ETH', async () => {
      trace.push('a+');
      await new Promise((resolve) => setTimeout(resolve, 500));
      trace.push('a-');
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await b.withLock('coin:ETH', () => Promise.resolve(trace.push('b')));
    await long;
    expect(trace).toEqual(['a+', 'a-', 'b']);
  });

  it('gives up with a retryable error when the coin stays busy', async () => {
    const prefix = randomPrefix();
    const redis = client();
    await redis.set(`${prefix}lock:coin:SOL`, 'someone', 'PX', 5_000);
    const locks = new RedisLocks(redis, prefix, { ttlMs: 1_000, waitMs: 100, pollMs: 10 });
    await expect(locks.withLock('coin:SOL', () => Promise.resolve())).rejects.toMatchObject({ code: 'LOCK_BUSY', reaction: 'retry' });
  });

  it('a holder whose renewals stall past the ttl (Redis paused) is told it lost the lock before its next order', async () => {
    // A Redis of its own: a pause of the shared one would stall every other test.
    const server = await startRedisServer();
    const holder = new Redis(server.url);
    const admin = new Redis(server.url);
    const locks = new RedisLocks(holder, randomPrefix(), { ttlMs: 300, waitMs: 5_000, pollMs: 10 });
    const seen: string[] = [];
    await locks.withLock('coin:BTC', async () => {
      assertLocksHeld();
      seen.push('held');
      // Every client but this one waits 700 ms: renewals stall longer than the ttl.
      await admin.call('CLIENT', 'PAUSE', '700', 'WRITE');
      await new Promise((resolve) => setTimeout(resolve, 500));
      try {
        assertLocksHeld();
        seen.push('still held');
      } catch (err) {
        seen.push((err as { code?: string }).code ?? 'error');
      }
    });
    await Promise.all([holder.quit(), admin.quit()]);
    await server.stop();
    expect(seen).toEqual(['held', 'LOCK_LOST']);
  });

  it('a holder whose lock was taken by another process is told so at its next renewal', async () => {
    const prefix = randomPrefix();
    const redis = client();
    const locks = new RedisLocks(redis, prefix, { ttlMs: 150, waitMs: 5_000, pollMs: 10 });
    const outcome = await locks.withLock('coin:ETH', async () => {
      // Another process took the key (the lock had expired on the server while this one stalled).
      await redis.set(`${prefix}lock:coin:ETH`, 'someone-else', 'PX', 5_000);
      await new Promise((resolve) => setTimeout(resolve, 120));
      try {
        assertLocksHeld();
        return 'held';
      } catch (err) {
        return (err as Error).message;
      }
    });
    expect(outcome).toMatch(/lost \(another process holds it\)/);
  });
});
