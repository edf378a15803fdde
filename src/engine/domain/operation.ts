import type { Operation, OperationState } from './types.js';

/**
 * Moves an operation to `state`, recording the step (and, for a failure, its code and reason).
 * The caller stores the operation right after, so every step is persisted.
 */
export function advanceOperation(op: Operation, state: OperationState, note: string, nowMs: number, errorCode?: string): Operation {
  op.state = state;
  op.updatedAtMs = nowMs;
  op.steps.push({ atMs: nowMs, state, note });
  if (errorCode) {
    op.errorCode = errorCode;
    op.errorMessage = note;
  }
  return op;
}
