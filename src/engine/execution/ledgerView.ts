import { ZERO, type Decimal } from '../domain/decimal.js';
import type { LedgerEntry, TradingMode } from '../domain/types.js';
import type { Store } from '../store/port.js';
import type { Balances } from './port.js';

/** Adds one ledger line to the balances it belongs to. */
export function addToBalances(balances: Balances, entry: LedgerEntry): void {
  const book = balances[entry.account];
  book.set(entry.asset, (book.get(entry.asset) ?? ZERO).plus(entry.amount));
}

/**
 * Running sums over the append-only ledger: balances by mode, account and asset, and funding by
 * position. Each refresh reads only the lines appended since the last one (by any process), so
 * the sums stay exactly the ledger's sum without re-reading it.
 */
export class LedgerView {
  private count = 0;
  private readonly balances: Record<TradingMode, Balances> = {
    paper: { spot: new Map(), perp: new Map() },
    live: { spot: new Map(), perp: new Map() },
  };
  private readonly funding = new Map<string, Decimal>();
  private readonly fundingLines = new Map<string, LedgerEntry[]>();
  private refreshing: Promise<void> | null = null;

  constructor(private readonly store: Store) {}

  async balancesOf(mode: TradingMode): Promise<Balances> {
    await this.refresh();
    const book = this.balances[mode];
    return { spot: new Map(book.spot), perp: new Map(book.perp) };
  }

  /** Funding booked per position id. */
  async fundingByPosition(): Promise<ReadonlyMap<string, Decimal>> {
    await this.refresh();
    return new Map(this.funding);
  }

  /** The funding lines booked for one position, in ledger order. */
  async fundingLinesOf(positionId: string): Promise<readonly LedgerEntry[]> {
    await this.refresh();
    return [...(this.fundingLines.get(positionId) ?? [])];
  }

  /** Reads new lines; concurrent callers share one read so no line is added twice. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.readNew().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async readNew(): Promise<void> {
    const fresh = await this.store.listLedger(this.count);
    for (const entry of fresh) this.add(entry);
    this.count += fresh.length;
  }

  private add(entry: LedgerEntry): void {
    addToBalances(this.balances[entry.mode], entry);
    if (entry.kind !== 'funding') return;
    this.funding.set(entry.ref, (this.funding.get(entry.ref) ?? ZERO).plus(entry.amount));
    const lines = this.fundingLines.get(entry.ref);
    if (lines) lines.push(entry);
    else this.fundingLines.set(entry.ref, [entry]);
  }
}
