import type { Decimal } from './domain/decimal.js';
import type { FundingOpportunity } from './market/funding.js';
import type { DeltaStatus, FundingComparison, LiquidationSource, Operation, OrderRequest, OrderResult, Position } from './domain/types.js';
import type { HoldingDifference } from './position/holdings.js';

/** What the engine tells the team. `critical` events must never wait behind routine ones. */
export type EngineEvent =
  | { type: 'opened'; critical: false; operation: Operation; position: Position; spot: OrderResult; perp: OrderResult }
  | { type: 'closed'; critical: false; operation: Operation; position: Position }
  | {
      type: 'rollback';
      critical: true;
      operation: Operation;
      filled: OrderResult;
      failedLeg: 'spot' | 'perp';
      failure: string;
      reversal: OrderResult | null;
      reversalError?: string;
    }
  | { type: 'drift'; critical: true; operation: Operation | null; delta: DeltaStatus; action: string }
  | { type: 'recovery'; critical: true; operation: Operation; outcome: string }
  /** An order given up as unknown filled after all; `reversal` undid it, or `reversalError` says why not. */
  | { type: 'late_fill'; critical: true; operationId: string; fill: OrderResult; reversal: OrderResult | null; reversalError?: string }
  | { type: 'funding'; critical: false; position: Position; rate: Decimal; amountUsd: Decimal; fundingTimeMs: number }
  /** The venue paid a hedge funding different from what the ledger booked (beyond the tolerance). */
  | { type: 'funding_mismatch'; critical: true; comparison: FundingComparison }
  /**
   * Orders of an operation whose outcome the venue has not told yet: the operation is left
   * unfinished (nothing assumed) and is finished from the venue's answer at the next delta check.
   */
  | { type: 'unresolved'; critical: true; operation: Operation; orders: { request: OrderRequest; reason: string }[]; filled: OrderResult[] }
  /** What the venue holds differs from what the records account for; opens of these coins wait. */
  | { type: 'reconcile'; critical: true; differences: HoldingDifference[] }
  /** These coins match the records again; their opens no longer wait. */
  | { type: 'reconciled'; critical: false; coins: string[] }
  | { type: 'liquidation'; critical: true; position: Position; liquidationPrice: Decimal; source: LiquidationSource; distancePct: Decimal }
  | { type: 'opportunity'; critical: false; thresholdPct: Decimal; rows: FundingOpportunity[] }
  | { type: 'error'; critical: true; operation: Operation | null; code: string; message: string };

export type EventListener = (event: EngineEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: EngineEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
