import { AsyncLocalStorage } from 'node:async_hooks';
import { LockLostError } from '../domain/errors.js';

/** The lock of one coin: every open, close, recovery, funding booking and late-fill undo of it runs under it. */
export function coinLock(coin: string): string {
  return `coin:${coin}`;
}

/** The one lock of mode changes: their confirm holds it, and so does recovering one. */
export const MODE_LOCK = 'mode';

/** The lock every confirmation of an open takes around its risk check, so limits hold across coins. */
export const ACCOUNT_LOCK = 'account';

/** Serialises work per key (one coin at a time), so opens and closes of a coin never interleave. */
export interface Locks {
  withLock<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/** A held lock as its holder sees it: null while held, or why it was lost. */
export interface LockLease {
  key: string;
  lostReason(): string | null;
}

const held = new AsyncLocalStorage<readonly LockLease[]>();

/** Runs `work` with `lease` among the locks it holds (for assertLocksHeld down its call chain). */
export function runHolding<T>(lease: LockLease, work: () => Promise<T>): Promise<T> {
  return held.run([...(held.getStore() ?? []), lease], work);
}

/**
 * Throws LockLostError when any lock the current work runs under was lost (a renewal failed or
 * came too late, so another process may hold it now). Called before every order: a holder that
 * lost its lock stops there and leaves the operation to whoever holds the lock now.
 */
export function assertLocksHeld(): void {
  for (const lease of held.getStore() ?? []) {
    const reason = lease.lostReason();
    if (reason) throw new LockLostError(`the lock ${lease.key} was lost (${reason}); this process stops before sending another order`);
  }
}

/** Locks within one process. Several worker processes need a lock held in the store instead. */
export class InProcessLocks implements Locks {
  private readonly tails = new Map<string, Promise<unknown>>();

  async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const lease: LockLease = { key, lostReason: () => null };
    const guarded = (): Promise<T> => runHolding(lease, work);
    const run = previous.then(guarded, guarded);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
