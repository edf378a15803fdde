import type {
  OperationState,
  AuditEntry,
  LedgerEntry,
  Operation,
  OrderResult,
  Position,
  TradingMode,
} from '../domain/types.js';

export interface ModeState {
  mode: TradingMode | null;
  epoch: number;
}

/** A compare-and-set of an operation: done, or why not (what the store holds now). */
export type AdvanceResult =
  | { ok: true }
  | { ok: false; reason: 'state'; current: OperationState | null }
  | { ok: false; reason: 'mode'; epoch: number };

export type SwitchResult =
  | { switched: true; epoch: number }
  | { switched: false; openPositions: number; busyOperations: number }
  /** The switch's own operation is no longer confirmed (cancelled, failed by someone else). */
  | { switched: false; lost: true };

/** Audit entries every store keeps; older ones are dropped. */
export const AUDIT_LIMIT = 10_000;

/**
 * Everything the engine keeps. Two implementations pass one contract suite
 * (tests/engine/store/store.contract.ts): MemoryStore and RedisStore.
 */
export interface Store {
  // Operations: written before any order is sent; every later step is a compare-and-set.
  /** Stores a new operation (a preview, or a system operation born confirmed). */
  putOperation(op: Operation): Promise<void>;
  /**
   * Stores `op` (already advanced in memory) only if the stored record is still in state `from`,
   * and — with `modeEpoch` — only if the mode has not been switched since that epoch. With
   * `position`, the position is written in the same atomic step (the step that made or changed
   * it), so no reader nor a restart ever sees one without the other.
   */
  advanceOperation(op: Operation, from: OperationState, options?: { position?: Position; modeEpoch?: number }): Promise<AdvanceResult>;
  getOperation(id: string): Promise<Operation | null>;
  /** Operations not in a finished state, oldest first. */
  listUnfinishedOperations(): Promise<Operation[]>;

  putPosition(position: Position): Promise<void>;
  getPosition(id: string): Promise<Position | null>;
  /** Open positions, oldest first. */
  listOpenPositions(): Promise<Position[]>;
  /** Every position ever stored, oldest first. */
  listPositions(): Promise<Position[]>;
  /**
   * Closed positions not marked `fundingComplete`, oldest first: the funding scan still owes them
   * the funding times they held before the close. Kept in an index of their own, so the scan
   * never reads all history.
   */
  listClosedPositionsAwaitingFunding(): Promise<Position[]>;

  /**
   * Records a fill and its ledger lines atomically, once per client order id. Returns null when
   * it was recorded now, or the fill already stored under that client order id (nothing written).
   */
  recordFill(fill: OrderResult, entries: LedgerEntry[]): Promise<OrderResult | null>;
  getFill(clientOrderId: string): Promise<OrderResult | null>;

  /** Appends ledger lines atomically unless a line with the first entry's id exists; true if written. */
  appendLedger(entries: LedgerEntry[]): Promise<boolean>;
  /** Ledger lines in append order, from the `fromIndex`-th line on (0: all). */
  listLedger(fromIndex?: number): Promise<LedgerEntry[]>;

  /** Keeps the newest AUDIT_LIMIT entries. */
  appendAudit(entry: AuditEntry): Promise<void>;
  /** The newest `limit` audit entries, newest first. */
  recentAudit(limit: number): Promise<AuditEntry[]>;

  getMode(): Promise<TradingMode | null>;
  /** The stored mode and its epoch: how many switches it has seen (0 before the first). */
  getModeState(): Promise<ModeState>;
  /** Sets the mode unconditionally (first start, tests) and counts it as a switch. */
  setMode(mode: TradingMode): Promise<void>;
  /**
   * Switches the mode in one atomic step only when flat: no open position of any mode and no
   * unfinished operation past its preview (other than `exceptOperationId`, the switch itself, which
   * must then still be confirmed). Previews stay stored, but the epoch moves on, so none of them can
   * be confirmed any more.
   */
  switchMode(mode: TradingMode, exceptOperationId: string): Promise<SwitchResult>;

  /** Small named values (latest funding scan, mutes, watchdog marks), optionally expiring. */
  putValue(key: string, value: unknown, ttlMs?: number): Promise<void>;
  getValue<T>(key: string): Promise<T | null>;
  /** True for the first caller of `key` within `ttlMs`, false for every repeat (dedupe). */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;

  close(): Promise<void>;
}
