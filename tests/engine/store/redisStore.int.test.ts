import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import type { LedgerEntry } from '../../../src/engine/domain/types.js';
import { RedisStore } from '../../../src/engine/store/redisStore.js';
import { randomPrefix, testRedisUrl } from '../../support/redis.js';
import { storeContract } from './store.contract.js';

storeContract('RedisStore', () => RedisStore.connect(testRedisUrl(), randomPrefix()));

const line = (id: string, amount: string): LedgerEntry => ({
  id,
  atMs: 1_000,
  kind: 'funding',
  account: 'perp',
  asset: 'USDT',
  amount: new Decimal(amount),
  ref: 'p1',
  mode: 'paper',
});

describe('RedisStore keys', () => {
  it('keeps stores with different prefixes apart', async () => {
    const a = await RedisStore.connect(testRedisUrl(), randomPrefix());
    const b = await RedisStore.connect(testRedisUrl(), randomPrefix());
    try {
      await a.setMode('live');
      await a.appendLedger([line('f1', '0.25')]);
      await a.appendAudit({ atMs: 1, userId: 'u', name: 'Ann', chatId: 'c', action: 'mode', outcome: 'ok' });

      expect(await b.getMode()).toBeNull();
      expect(await b.listLedger()).toEqual([]);
      expect(await b.recentAudit(10)).toEqual([]);
      // The same ledger id is new to the other prefix.
      expect(await b.appendLedger([line('f1', '0.5')])).toBe(true);
      expect((await a.listLedger()).map((l) => l.amount.toString())).toEqual(['0.25']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('finds its data again after reconnecting with the same prefix', async () => {
    const prefix = randomPrefix();
    const first = await RedisStore.connect(testRedisUrl(), prefix);
    await first.setMode('paper');
    await first.appendLedger([line('f1', '-0.000000000000000000000000000001')]);
    await first.close();

    const second = await RedisStore.connect(testRedisUrl(), prefix);
    try {
      expect(await second.getMode()).toBe('paper');
      const [stored] = await second.listLedger();
      expect(stored?.amount.equals('-1e-30')).toBe(true);
      expect(await second.appendLedger([line('f1', '1')])).toBe(false);
    } finally {
      await second.close();
    }
  });

  it('writes only keys under its prefix, and leaves a client it was given open', async () => {
    // A database of its own, so keys from other test files cannot show up in KEYS *.
    const client = new Redis(testRedisUrl(), { db: 13, maxRetriesPerRequest: 3 });
    const prefix = randomPrefix();
    try {
      const store = new RedisStore(client, prefix);
      await store.setMode('live');
      await store.appendLedger([line('f1', '1')]);
      await store.appendAudit({ atMs: 1, userId: 'u', name: 'Ann', chatId: 'c', action: 'a', outcome: 'ok' });
      await store.close();

      expect(await client.ping()).toBe('PONG');
      const keys = await client.keys('*');
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((key) => !key.startsWith(prefix))).toEqual([]);
    } finally {
      const ours = await client.keys(`${prefix}*`);
      if (ours.length > 0) await client.del(...ours);
      await client.quit();
    }
  });
});
