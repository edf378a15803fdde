import { describe, expect, it } from 'vitest';
import type { Locks } from '../../../src/engine/position/locks.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What every Locks implementation promises; `make` returns two handles as two processes would hold. */
export function locksContract(name: string, make: () => Promise<[Locks, Locks]>): void {
  describe(`Locks contract: ${name}`, () => {
    it('runs work on one key one at a time, across handles', async () => {
      const [a, b] = await make();
      const trace: string[] = [];
      const job = (locks: Locks, label: string) =>
        locks.withLock('coin:BTC', async () => {
          trace.push(`${label}+`);
          await pause(30);
          trace.push(`${label}-`);
        });
      await Promise.all([job(a, 'a1'), job(b, 'b1'), job(a, 'a2'), job(b, 'b2')]);
      for (let i = 0; i < trace.length; i += 2) {
        expect(trace[i]?.replace('+', '')).toBe(trace[i + 1]?.replace('-', ''));
      }
      expect(trace).toHaveLength(8);
    });

    it('lets different keys run at the same time', async () => {
      const [a, b] = await make();
      let inside = 0;
      let most = 0;
      const job = (locks: Locks, key: string) =>
        locks.withLock(key, async () => {
          inside += 1;
          most = Math.max(most, inside);
          await pause(30);
          inside -= 1;
        });
      await Promise.all([job(a, 'coin:BTC'), job(b, 'coin:ETH')]);
      expect(most).toBe(2);
    });

    it('releases the lock when the work throws, and passes the error on', async () => {
      const [a, b] = await make();
      await expect(a.withLock('coin:SOL', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      await expect(b.withLock('coin:SOL', () => Promise.resolve('next'))).resolves.toBe('next');
    });
  });
}
