import { OperationStateError } from './errors.js';
import { newStepId } from './ids.js';
import type { Operation, OperationState } from './types.js';

/**
 * Every move an operation may make, and nothing else. A preview (`requested`) is confirmed,
 * cancelled, expired, or refused at confirmation (`failed`: quote moved, over a limit); a confirmed
 * operation is placed, or fails before any order (a restart); placing ends in one of its outcomes.
 * A mode change is applied (`done`) from confirmed. Finished states have no way out: a late fill of
 * a finished operation is the late-fill watch's business, not a new state.
 */
export const TRANSITIONS: Readonly<Record<OperationState, readonly OperationState[]>> = {
  requested: ['confirmed', 'cancelled', 'expired', 'failed'],
  confirmed: ['placing', 'done', 'failed'],
  // placing → placing: a recovery round begins (stored before its first order).
  placing: ['placing', 'open', 'closed', 'rolled_back', 'failed'],
  open: [],
  closed: [],
  rolled_back: [],
  failed: [],
  cancelled: [],
  expired: [],
  done: [],
};

export function canMove(from: OperationState, to: OperationState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Confirmed and not finished: its orders may be out, so its coin's holdings may be changing. */
export function isUnderway(op: Pick<Operation, 'state'>): boolean {
  return op.state === 'confirmed' || op.state === 'placing';
}

/** What an operation is doing, in words for a refusal: "already open", "being placed". */
export function describeState(state: OperationState): string {
  switch (state) {
    case 'requested':
      return 'waiting for confirmation';
    case 'confirmed':
    case 'placing':
      return 'already confirmed and running';
    default:
      return `already ${state.replace('_', ' ')}`;
  }
}

/**
 * Moves an operation in memory to `state`, recording the step (and, for a failure, its code and
 * reason); refuses a move the table does not list. Returns the state it came from, which the
 * store's compare-and-set then expects to find.
 */
export function advanceOperation(op: Operation, state: OperationState, note: string, nowMs: number, errorCode?: string): OperationState {
  const from = op.state;
  if (!canMove(from, state)) {
    throw new OperationStateError(`operation ${op.id} (${op.kind} ${op.coin}) cannot go from ${from} to ${state}: it is ${describeState(from)}`);
  }
  op.state = state;
  op.updatedAtMs = nowMs;
  op.steps.push({ atMs: nowMs, state, note, id: newStepId() });
  if (errorCode) {
    op.errorCode = errorCode;
    op.errorMessage = note;
  }
  return from;
}
