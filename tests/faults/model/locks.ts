import type { Locks } from '../../../src/engine/position/locks.js';

/** Who holds or waits for a lock: a process that can die. */
export interface LockOwner {
  readonly dead: boolean;
}

interface Waiter {
  owner: LockOwner;
  grant: (token: number) => void;
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/**
 * One lock table shared by every process, like the Redis locks: work on one key runs one at a
 * time across processes, first come first served. A process that dies loses its locks at once (as
 * a Redis lock's TTL would free them) and never gets one it was waiting for.
 */
export class ModelLocks {
  private readonly held = new Map<string, { owner: LockOwner; token: number }>();
  private readonly waiting = new Map<string, Waiter[]>();
  private tokens = 0;

  for(owner: LockOwner): Locks {
    return { withLock: (key, work) => this.withLock(owner, key, work) };
  }

  /** Frees every lock of a process that died, handing each to the next live waiter. */
  freeAll(owner: LockOwner): void {
    for (const [key, holder] of [...this.held]) if (holder.owner === owner) this.release(key, holder.token);
  }

  private async withLock<T>(owner: LockOwner, key: string, work: () => Promise<T>): Promise<T> {
    if (owner.dead) return never();
    const token = await this.acquire(owner, key);
    try {
      return await work();
    } finally {
      this.release(key, token);
    }
  }

  private acquire(owner: LockOwner, key: string): Promise<number> {
    if (!this.held.has(key)) {
      const token = ++this.tokens;
      this.held.set(key, { owner, token });
      return Promise.resolve(token);
    }
    return new Promise((grant) => {
      const queue = this.waiting.get(key) ?? [];
      queue.push({ owner, grant });
      this.waiting.set(key, queue);
    });
  }

  /** Releases `key` if `token` still holds it (a dead holder's late release frees nothing). */
  private release(key: string, token: number): void {
    if (this.held.get(key)?.token !== token) return;
    this.held.delete(key);
    const queue = this.waiting.get(key) ?? [];
    let next = queue.shift();
    while (next?.owner.dead) next = queue.shift();
    if (queue.length === 0) this.waiting.delete(key);
    if (!next) return;
    const granted = ++this.tokens;
    this.held.set(key, { owner: next.owner, token: granted });
    next.grant(granted);
  }
}
