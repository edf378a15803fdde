import type {
  AuditEntry,
  LedgerEntry,
  Operation,
  OrderResult,
  Position,
  TradingMode,
} from '../domain/types.js';

/** Audit entries every store keeps; older ones are dropped. */
export const AUDIT_LIMIT = 10_000;

/**
 * Everything the engine keeps. Two implementations pass one contract suite
 * (tests/engine/store/store.contract.ts): MemoryStore and RedisStore.
 */
export interface Store {
  // Operations: written before any order is sent; every state change rewrites the record.
  putOperation(op: Operation): Promise<void>;
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
   * Writes a position and the operation step that made or changed it in one transaction, so no
   * reader (nor a restart) ever sees one without the other.
   */
  putPositionAndOperation(position: Position, op: Operation): Promise<void>;

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
  setMode(mode: TradingMode): Promise<void>;

  /** Small named values (latest funding scan, mutes, watchdog marks), optionally expiring. */
  putValue(key: string, value: unknown, ttlMs?: number): Promise<void>;
  getValue<T>(key: string): Promise<T | null>;
  /** True for the first caller of `key` within `ttlMs`, false for every repeat (dedupe). */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;

  close(): Promise<void>;
}
