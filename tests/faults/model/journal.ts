import type { EngineEvent } from '../../../src/engine/events.js';
import type { LegKind, Operation, OperationKind, Position, TradingMode } from '../../../src/engine/domain/types.js';
import { belongsTo } from './accounting.js';
import type { VenueFill } from './venue.js';

/** What the store holds of an operation, as last written. */
export interface OperationFacts {
  id: string;
  kind: OperationKind;
  coin: string;
  mode: TradingMode;
  state: Operation['state'];
  positionId?: string;
}

export interface SeenEvent {
  seq: number;
  process: string;
  event: EngineEvent;
}

/**
 * What happened in one run, seen from outside the engine: every fill (venue, or paper fills as
 * the store recorded them), the records as the store last took them, every event the team got, a
 * sequence number for each so "after the last change" can be checked, and the violations found.
 */
export class Journal {
  readonly operations = new Map<string, OperationFacts>();
  readonly positions = new Map<string, Position>();
  readonly paperFills: VenueFill[] = [];
  readonly events: SeenEvent[] = [];
  readonly violations: string[] = [];
  /** Operations whose Cancel resolved without error. */
  readonly cancelled = new Set<string>();
  /** How each piece of work a command started ended, for the story of a run. */
  readonly outcomes: { seq: number; text: string }[] = [];
  /** Commands run in this run (for the outcome counts). */
  steps = 0;
  private seq = 0;
  /** Sequence number of the last change to a leg's holdings or records, by `mode:coin:leg`. */
  private readonly lastChange = new Map<string, number>();

  constructor(public mode: TradingMode) {}

  next(): number {
    return ++this.seq;
  }

  /** A change to `legs` of a coin (a fill changes its leg; a position's record changes both). */
  changed(mode: TradingMode, coin: string, legs: readonly LegKind[] = ['spot', 'perp']): number {
    const seq = this.next();
    for (const leg of legs) this.lastChange.set(`${mode}:${coin}:${leg}`, seq);
    return seq;
  }

  lastChangeOf(mode: TradingMode, coin: string, leg: LegKind): number {
    return this.lastChange.get(`${mode}:${coin}:${leg}`) ?? 0;
  }

  violation(text: string): void {
    if (!this.violations.includes(text)) this.violations.push(text);
  }

  noteOperation(op: Operation): void {
    this.operations.set(op.id, { id: op.id, kind: op.kind, coin: op.coin, mode: op.mode, state: op.state, ...(op.positionId ? { positionId: op.positionId } : {}) });
  }

  notePosition(position: Position): void {
    this.positions.set(position.id, { ...position, spotLeg: { ...position.spotLeg }, perpLeg: { ...position.perpLeg } });
    this.changed(position.mode, position.coin);
  }

  /** The operation a client order id belongs to, or null. */
  operationOf(clientOrderId: string): OperationFacts | null {
    for (const op of this.operations.values()) {
      if (belongsTo(clientOrderId, op.id)) return op;
    }
    return null;
  }

  /** The fills of one mode: the venue's for live, the recorded paper fills for paper. */
  fillsOf(mode: TradingMode, venueFills: readonly VenueFill[]): readonly VenueFill[] {
    return mode === 'live' ? venueFills : this.paperFills;
  }
}
