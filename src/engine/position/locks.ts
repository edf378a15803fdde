/** The lock of one coin: every open, close, recovery, funding booking and late-fill undo of it runs under it. */
export function coinLock(coin: string): string {
  return `coin:${coin}`;
}

/** Serialises work per key (one coin at a time), so opens and closes of a coin never interleave. */
export interface Locks {
  withLock<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/** Locks within one process. Several worker processes need a lock held in the store instead. */
export class InProcessLocks implements Locks {
  private readonly tails = new Map<string, Promise<unknown>>();

  async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
