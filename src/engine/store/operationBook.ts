import type { Clock } from '../domain/clock.js';
import { ModeChangeError, OperationStateError } from '../domain/errors.js';
import { advanceOperation, describeState } from '../domain/operation.js';
import type { Operation, OperationState, Position } from '../domain/types.js';
import type { Store } from './port.js';

/**
 * The one way an operation moves: checked against the transition table in memory, then stored
 * compare-and-set against the state it came from, so confirm, cancel, a mode switch, recovery and
 * a second worker can never overwrite each other. A lost race is refused with what happened.
 */
export class OperationBook {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /**
   * Moves `op` to `state` and stores it. With `position`, the position is written in the same
   * atomic step; with `modeEpoch`, the move is refused if the mode switched since that epoch.
   * Throws OperationStateError (someone else moved it first) or ModeChangeError (the mode changed).
   */
  async advance(
    op: Operation,
    state: OperationState,
    note: string,
    options: { errorCode?: string; position?: Position; modeEpoch?: number } = {},
  ): Promise<void> {
    const from = advanceOperation(op, state, note, this.clock.nowMs(), options.errorCode);
    const stored = await this.store.advanceOperation(op, from, {
      ...(options.position ? { position: options.position } : {}),
      ...(options.modeEpoch !== undefined ? { modeEpoch: options.modeEpoch } : {}),
    });
    if (stored.ok) return;
    // A reply lost after the write landed: the client's retry finds its own step already stored.
    if (stored.reason === 'state' && stored.current === state && (await this.alreadyStored(op))) return;
    if (stored.reason === 'mode') {
      throw new ModeChangeError(`the trading mode was switched after this ${op.kind} was previewed in ${op.mode} mode; nothing was placed, send the command again`);
    }
    const now = stored.current ? describeState(stored.current) : 'gone from the store';
    throw new OperationStateError(`operation ${op.id} (${op.kind} ${op.coin}) is ${now}; it was not changed again`);
  }

  /** The stored record ends with the very step `op` ends with. */
  private async alreadyStored(op: Operation): Promise<boolean> {
    const stored = await this.store.getOperation(op.id);
    const mine = op.steps[op.steps.length - 1];
    const theirs = stored?.steps[stored.steps.length - 1];
    return stored !== null && mine?.id !== undefined && theirs?.id === mine.id;
  }
}
