import {
  FINISHED_STATES,
  type AuditEntry,
  type OperationState,
  type LedgerEntry,
  type Operation,
  type OrderResult,
  type Position,
  type TradingMode,
} from '../domain/types.js';
import { decode, encode } from './codec.js';
import { AUDIT_LIMIT, type AdvanceResult, type ModeState, type Store, type SwitchResult } from './port.js';

/**
 * In-memory Store for tests and the embedded demo. Records are kept encoded, so neither the
 * caller's object after a put nor a returned object can change what is stored.
 */
export class MemoryStore implements Store {
  private readonly operations = new Map<string, string>();
  private readonly positions = new Map<string, string>();
  /** Ids of closed positions awaiting funding, as RedisStore indexes them. */
  private readonly awaitingFunding = new Set<string>();
  private readonly fills = new Map<string, string>();
  private readonly ledger: string[] = [];
  private readonly ledgerIds = new Set<string>();
  /** Oldest first, at most AUDIT_LIMIT. */
  private readonly audit: string[] = [];
  private mode: TradingMode | null = null;
  private modeEpoch = 0;
  private readonly values = new Map<string, { text: string; expiresAtMs: number }>();
  private readonly claims = new Map<string, number>();

  async putOperation(op: Operation): Promise<void> {
    this.operations.set(op.id, encode(op));
  }

  async getOperation(id: string): Promise<Operation | null> {
    return readOne<Operation>(this.operations, id);
  }

  async listUnfinishedOperations(): Promise<Operation[]> {
    return readAll<Operation>(this.operations)
      .filter((op) => !FINISHED_STATES.has(op.state))
      .sort((a, b) => byScoreThenId(a.createdAtMs, a.id, b.createdAtMs, b.id));
  }

  async putPosition(position: Position): Promise<void> {
    this.writePosition(position);
  }

  // No await before the writes: the check and the writes happen in one turn, like the Lua script.
  async advanceOperation(op: Operation, from: OperationState, options: { position?: Position; modeEpoch?: number } = {}): Promise<AdvanceResult> {
    const current = readOne<Operation>(this.operations, op.id)?.state ?? null;
    if (current !== from) return { ok: false, reason: 'state', current };
    if (options.modeEpoch !== undefined && options.modeEpoch !== this.modeEpoch) return { ok: false, reason: 'mode', epoch: this.modeEpoch };
    if (options.position) this.writePosition(options.position);
    this.operations.set(op.id, encode(op));
    return { ok: true };
  }

  async getPosition(id: string): Promise<Position | null> {
    return readOne<Position>(this.positions, id);
  }

  async listOpenPositions(): Promise<Position[]> {
    return (await this.listPositions()).filter((position) => position.status === 'open');
  }

  async listPositions(): Promise<Position[]> {
    return readAll<Position>(this.positions).sort(byOpenedAt);
  }

  async listClosedPositionsAwaitingFunding(): Promise<Position[]> {
    return [...this.awaitingFunding].flatMap((id) => readOne<Position>(this.positions, id) ?? []).sort(byOpenedAt);
  }

  // No await before the writes: the check and the writes happen in one turn, like the Lua script.
  async recordFill(fill: OrderResult, entries: LedgerEntry[]): Promise<OrderResult | null> {
    const existing = readOne<OrderResult>(this.fills, fill.clientOrderId);
    if (existing) return existing;
    this.fills.set(fill.clientOrderId, encode(fill));
    this.pushLedger(entries);
    return null;
  }

  async getFill(clientOrderId: string): Promise<OrderResult | null> {
    return readOne<OrderResult>(this.fills, clientOrderId);
  }

  async appendLedger(entries: LedgerEntry[]): Promise<boolean> {
    const first = entries[0];
    if (!first || this.ledgerIds.has(first.id)) return false;
    this.pushLedger(entries);
    return true;
  }

  async listLedger(fromIndex = 0): Promise<LedgerEntry[]> {
    return this.ledger.slice(fromIndex).map((text) => decode<LedgerEntry>(text));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.audit.push(encode(entry));
    if (this.audit.length > AUDIT_LIMIT) this.audit.shift();
  }

  async recentAudit(limit: number): Promise<AuditEntry[]> {
    if (limit <= 0) return [];
    return this.audit
      .slice(-limit)
      .reverse()
      .map((text) => decode<AuditEntry>(text));
  }

  async getMode(): Promise<TradingMode | null> {
    return this.mode;
  }

  async getModeState(): Promise<ModeState> {
    return { mode: this.mode, epoch: this.modeEpoch };
  }

  async setMode(mode: TradingMode): Promise<void> {
    this.mode = mode;
    this.modeEpoch += 1;
  }

  async switchMode(mode: TradingMode, exceptOperationId: string): Promise<SwitchResult> {
    if (exceptOperationId !== '' && readOne<Operation>(this.operations, exceptOperationId)?.state !== 'confirmed') return { switched: false, lost: true };
    const openPositions = readAll<Position>(this.positions).filter((p) => p.status === 'open').length;
    const busyOperations = readAll<Operation>(this.operations).filter(
      (op) => op.id !== exceptOperationId && !FINISHED_STATES.has(op.state) && op.state !== 'requested',
    ).length;
    if (openPositions > 0 || busyOperations > 0) return { switched: false, openPositions, busyOperations };
    this.mode = mode;
    this.modeEpoch += 1;
    return { switched: true, epoch: this.modeEpoch };
  }

  async putValue(key: string, value: unknown, ttlMs?: number): Promise<void> {
    this.values.set(key, { text: encode(value), expiresAtMs: ttlMs ? Date.now() + ttlMs : Infinity });
  }

  async getValue<T>(key: string): Promise<T | null> {
    const entry = this.values.get(key);
    if (!entry || entry.expiresAtMs <= Date.now()) return null;
    return decode<T>(entry.text);
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const expiresAtMs = this.claims.get(key);
    if (expiresAtMs !== undefined && expiresAtMs > Date.now()) return false;
    this.claims.set(key, Date.now() + ttlMs);
    return true;
  }

  async close(): Promise<void> {}

  private writePosition(position: Position): void {
    this.positions.set(position.id, encode(position));
    if (position.status === 'closed' && !position.fundingComplete) this.awaitingFunding.add(position.id);
    else this.awaitingFunding.delete(position.id);
  }

  private pushLedger(entries: LedgerEntry[]): void {
    for (const entry of entries) {
      this.ledger.push(encode(entry));
      this.ledgerIds.add(entry.id);
    }
  }
}

function readOne<T>(records: Map<string, string>, id: string): T | null {
  const text = records.get(id);
  return text === undefined ? null : decode<T>(text);
}

function readAll<T>(records: Map<string, string>): T[] {
  return [...records.values()].map((text) => decode<T>(text));
}

const byOpenedAt = (a: Position, b: Position): number => byScoreThenId(a.openedAtMs, a.id, b.openedAtMs, b.id);

/** The order of a Redis sorted set: by score, ties by member. */
function byScoreThenId(scoreA: number, idA: string, scoreB: number, idB: string): number {
  if (scoreA !== scoreB) return scoreA - scoreB;
  return idA < idB ? -1 : idA > idB ? 1 : 0;
}
