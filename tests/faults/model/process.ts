import type { ManualClock } from '../../../src/engine/domain/clock.js';
import type { Decimal } from '../../../src/engine/domain/decimal.js';
import { VenueError } from '../../../src/engine/domain/errors.js';
import type {
  AuditEntry,
  FundingPayment,
  FundingRate,
  Instrument,
  LedgerEntry,
  Operation,
  OperationState,
  OrderRequest,
  OrderResult,
  Position,
  SettledFundingRate,
  Ticker,
  TradingMode,
} from '../../../src/engine/domain/types.js';
import type { Engine } from '../../../src/engine/engine.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { decode, encode } from '../../../src/engine/store/codec.js';
import type { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import type { AdvanceResult, ModeState, Store, SwitchResult } from '../../../src/engine/store/port.js';
import type { FaultSource, ReadFault, WriteFault } from './faults.js';
import type { Journal } from './journal.js';
import { VENUE_NAME, type ModelVenue } from './venue.js';

/** What every process shares: one venue, one store, one clock, one fault schedule, one scheduler. */
export interface Wiring {
  venue: ModelVenue;
  store: MemoryStore;
  clock: ManualClock;
  faults: FaultSource;
  journal: Journal;
  /** Resolves when the scheduler lets a call with this label through (at once without a scheduler). */
  gate(label: string): Promise<void>;
  /** An order reached the venue (live) or the paper ledger (paper), for the mode rule. */
  onPlacement(request: Pick<OrderRequest, 'clientOrderId'>, mode: TradingMode): void;
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
const snapshot = <T>(value: T): T => decode<T>(encode(value));

/**
 * One bot process. Every call it makes to the venue or the store waits for the scheduler. When it
 * dies, every later call hangs forever, calls in flight either still act (`inflightActs`) or
 * never arrive, and no answer comes back.
 */
export class ModelProcess {
  dead = false;
  inflightActs = false;
  engine: Engine | null = null;
  ready = false;
  readonly venue: Exchange;
  readonly store: Store;
  private markCrashed: () => void = () => undefined;
  private readonly crashed = new Promise<void>((resolve) => (this.markCrashed = resolve));

  constructor(
    readonly slot: number,
    readonly generation: number,
    private readonly wiring: Wiring,
  ) {
    this.venue = new ProcessVenue(this, wiring);
    this.store = new ProcessStore(this, wiring);
  }

  get label(): string {
    return `p${this.slot}${"'".repeat(this.generation)}`;
  }

  crash(inflightActs: boolean): void {
    this.dead = true;
    this.inflightActs = inflightActs;
    this.ready = false;
    this.markCrashed();
  }

  /** Runs one venue or store call of this process through the scheduler. */
  async io<T>(label: string, act: () => Promise<T>): Promise<T> {
    if (this.dead) return never();
    await Promise.race([this.wiring.gate(`${this.label} ${label}`), this.crashed]);
    if (this.dead) {
      if (this.inflightActs) void act().catch(() => undefined);
      return never();
    }
    let result: T;
    try {
      result = await act();
    } catch (err) {
      if (this.dead) return never();
      throw err;
    }
    if (this.dead) return never();
    return result;
  }
}

function readFailure(fault: ReadFault, what: string): VenueError | null {
  if (fault === 'rateLimited') return new VenueError(VENUE_NAME, 'VENUE_RATE_LIMITED', `${VENUE_NAME} ${what}: rate limit hit`, 'retry');
  if (fault === 'timeout') return new VenueError(VENUE_NAME, 'VENUE_TIMEOUT', `${VENUE_NAME} ${what}: no answer in time`, 'retry');
  return null;
}

const tag = (fault: string): string => (fault === 'ok' ? '' : ` [${fault}]`);

/** A process's view of the shared venue: the Exchange port, faulted call by call. */
class ProcessVenue implements Exchange {
  readonly name = VENUE_NAME;

  constructor(
    private readonly process: ModelProcess,
    private readonly wiring: Wiring,
  ) {}

  loadInstruments(): Promise<Instrument[]> {
    return Promise.resolve([...this.wiring.venue.instruments]);
  }

  fetchTickers(symbols: readonly string[]): Promise<Ticker[]> {
    return this.read(`fetchTickers ${symbols.join(',')}`, () => this.wiring.venue.tickers(symbols));
  }

  fetchFundingRates(): Promise<FundingRate[]> {
    return this.read('fetchFundingRates', () => []);
  }

  placeOrder(request: OrderRequest): Promise<OrderResult> {
    const fault = this.wiring.faults.order();
    const what = `placeOrder ${request.coin} ${request.kind} ${request.side} ${request.qty.toString()} ${request.clientOrderId}${tag(fault)}`;
    return this.process.io(what, () => {
      this.wiring.onPlacement(request, 'live');
      return this.wiring.venue.place(request, fault);
    });
  }

  fetchOrderByClientId(_symbol: string, clientOrderId: string): Promise<OrderResult | null> {
    return this.read(`fetchOrder ${clientOrderId}`, () => this.wiring.venue.lookup(clientOrderId));
  }

  fetchBalances(): Promise<{ spot: Map<string, Decimal>; perp: Map<string, Decimal> }> {
    return this.read('fetchBalances', () => this.wiring.venue.balances());
  }

  fetchFundingPayments(): Promise<FundingPayment[]> {
    return Promise.resolve([]);
  }

  fetchFundingRateHistory(): Promise<SettledFundingRate[]> {
    return Promise.resolve([]);
  }

  private read<T>(what: string, answer: () => T): Promise<T> {
    const fault = this.wiring.faults.read();
    return this.process.io(`${what}${tag(fault)}`, () => {
      const failure = readFailure(fault, what);
      return failure ? Promise.reject(failure) : Promise.resolve(answer());
    });
  }
}

/** A process's view of the shared MemoryStore: every call scheduled, three writes faulted. */
class ProcessStore implements Store {
  constructor(
    private readonly process: ModelProcess,
    private readonly wiring: Wiring,
  ) {}

  putOperation(op: Operation): Promise<void> {
    const copy = snapshot(op);
    return this.write(`putOperation ${op.id} ${op.state}`, async () => {
      await this.inner.putOperation(copy);
      this.journal.noteOperation(copy);
    });
  }

  getOperation(id: string): Promise<Operation | null> {
    return this.call(`getOperation ${id}`, () => this.inner.getOperation(id));
  }

  listUnfinishedOperations(): Promise<Operation[]> {
    return this.call('listUnfinishedOperations', () => this.inner.listUnfinishedOperations());
  }

  putPosition(position: Position): Promise<void> {
    const copy = snapshot(position);
    return this.call(`putPosition ${position.id} ${position.status}`, async () => {
      await this.inner.putPosition(copy);
      this.journal.notePosition(copy);
    });
  }

  getPosition(id: string): Promise<Position | null> {
    return this.call(`getPosition ${id}`, () => this.inner.getPosition(id));
  }

  listOpenPositions(): Promise<Position[]> {
    return this.call('listOpenPositions', () => this.inner.listOpenPositions());
  }

  listPositions(): Promise<Position[]> {
    return this.call('listPositions', () => this.inner.listPositions());
  }

  advanceOperation(op: Operation, from: OperationState, options: { position?: Position; modeEpoch?: number } = {}): Promise<AdvanceResult> {
    const [opCopy, positionCopy] = [snapshot(op), options.position ? snapshot(options.position) : undefined];
    const what = `advanceOperation ${op.id} ${from}→${op.state}${positionCopy ? ` ${positionCopy.id} ${positionCopy.status}` : ''}`;
    return this.write(what, async () => {
      const result = await this.inner.advanceOperation(opCopy, from, { ...options, ...(positionCopy ? { position: positionCopy } : {}) });
      if (result.ok) {
        if (positionCopy) this.journal.notePosition(positionCopy);
        this.journal.noteOperation(opCopy);
      }
      return result;
    });
  }

  listClosedPositionsAwaitingFunding(): Promise<Position[]> {
    return this.call('listClosedPositionsAwaitingFunding', () => this.inner.listClosedPositionsAwaitingFunding());
  }

  recordFill(fill: OrderResult, entries: LedgerEntry[]): Promise<OrderResult | null> {
    const [fillCopy, entriesCopy] = [snapshot(fill), snapshot(entries)];
    return this.write(`recordFill ${fill.clientOrderId} ${fill.status} ${fill.filledQty.toString()}`, async () => {
      const earlier = await this.inner.recordFill(fillCopy, entriesCopy);
      if (!earlier && entriesCopy[0]?.mode === 'paper') this.notePaperFill(fillCopy);
      return earlier;
    });
  }

  getFill(clientOrderId: string): Promise<OrderResult | null> {
    return this.call(`getFill ${clientOrderId}`, () => this.inner.getFill(clientOrderId));
  }

  appendLedger(entries: LedgerEntry[]): Promise<boolean> {
    const copy = snapshot(entries);
    return this.call(`appendLedger ${entries[0]?.id ?? ''}`, () => this.inner.appendLedger(copy));
  }

  listLedger(fromIndex?: number): Promise<LedgerEntry[]> {
    return this.call('listLedger', () => this.inner.listLedger(fromIndex));
  }

  appendAudit(entry: AuditEntry): Promise<void> {
    return this.call('appendAudit', () => this.inner.appendAudit({ ...entry }));
  }

  recentAudit(limit: number): Promise<AuditEntry[]> {
    return this.call('recentAudit', () => this.inner.recentAudit(limit));
  }

  getMode(): Promise<TradingMode | null> {
    return this.call('getMode', () => this.inner.getMode());
  }

  getModeState(): Promise<ModeState> {
    return this.call('getModeState', () => this.inner.getModeState());
  }

  setMode(mode: TradingMode): Promise<void> {
    return this.call(`setMode ${mode}`, async () => {
      await this.inner.setMode(mode);
      this.journal.mode = mode;
    });
  }

  switchMode(mode: TradingMode, exceptOperationId: string): Promise<SwitchResult> {
    return this.call(`switchMode ${mode}`, async () => {
      const result = await this.inner.switchMode(mode, exceptOperationId);
      if (result.switched) this.journal.mode = mode;
      return result;
    });
  }

  putValue(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const copy = snapshot(value);
    return this.call(`putValue ${key}`, () => this.inner.putValue(key, copy, ttlMs));
  }

  getValue<T>(key: string): Promise<T | null> {
    return this.call(`getValue ${key}`, () => this.inner.getValue<T>(key));
  }

  claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.call(`claimOnce ${key}`, () => this.inner.claimOnce(key, ttlMs));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private get inner(): MemoryStore {
    return this.wiring.store;
  }

  private get journal(): Journal {
    return this.wiring.journal;
  }

  /** A paper fill exists once the store has it: that is the paper venue. */
  private notePaperFill(fill: OrderResult): void {
    this.wiring.onPlacement(fill, 'paper');
    if (fill.filledQty.lte(0)) return;
    const seq = this.journal.changed('paper', fill.coin, [fill.kind]);
    this.journal.paperFills.push({ seq, clientOrderId: fill.clientOrderId, orderId: fill.orderId, coin: fill.coin, kind: fill.kind, side: fill.side, qty: fill.filledQty, price: fill.avgPrice, feeUsd: fill.feeUsd });
  }

  /** Any other store call: scheduled, never faulted. */
  private call<T>(what: string, call: () => Promise<T>): Promise<T> {
    return this.process.io(`store.${what}`, call);
  }

  /** A faulted write: fails before it lands, or lands and then throws, as a lost Redis reply does. */
  private write<T>(what: string, call: () => Promise<T>): Promise<T> {
    const fault: WriteFault = this.wiring.faults.write();
    return this.process.io(`store.${what}${tag(fault)}`, async () => {
      if (fault === 'failBefore') throw new Error(`store: connection lost before ${what.split(' ')[0] ?? 'the write'} (model fault)`);
      const result = await call();
      if (fault === 'failAfter') throw new Error(`store: ${what.split(' ')[0] ?? 'the write'} applied, reply lost (model fault)`);
      return result;
    });
  }
}
