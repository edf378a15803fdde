import type { Clock } from '../domain/clock.js';
import type { Decimal } from '../domain/decimal.js';
import { QUOTE_ASSET, type FundingRate, type Position } from '../domain/types.js';
import type { EventBus } from '../events.js';
import type { TickerService } from '../market/tickerService.js';
import type { Store } from '../store/port.js';
import { coinLock, type Locks } from './locks.js';

const HOUR_MS = 3_600_000;

/**
 * At each funding timestamp every position held through it books rate × perp notional into the
 * ledger (shorts receive a positive rate): open positions, and closed ones for the funding times
 * before their close that no scan booked yet. Each booking has an id made of the position and the
 * funding time, so running this twice for the same moment books once.
 */
export class FundingAccrual {
  constructor(
    private readonly deps: { store: Store; tickers: TickerService; events: EventBus; clock: Clock; locks: Locks },
  ) {}

  async accrue(rates: readonly FundingRate[]): Promise<number> {
    const byCoin = new Map(rates.map((r) => [r.coin, r]));
    const now = this.deps.clock.nowMs();
    const [open, closed] = await Promise.all([this.deps.store.listOpenPositions(), this.deps.store.listClosedPositionsAwaitingFunding()]);
    let booked = 0;
    for (const listed of [...open, ...closed]) {
      const rate = byCoin.get(listed.coin);
      if (!rate) continue;
      const intervalMs = rate.intervalHours * HOUR_MS;
      // lastFundingMs only moves forward, so a listed open position with nothing due has nothing
      // due under the lock either: no lock, read or write for it.
      if (listed.status === 'open' && fundingTimesDue(listed, intervalMs, now).length === 0) continue;
      booked += await this.accrueOne(listed.id, rate, intervalMs, now);
    }
    return booked;
  }

  /** Under the coin's lock, so a close running at the same time is never overwritten. */
  private accrueOne(positionId: string, rate: FundingRate, intervalMs: number, now: number): Promise<number> {
    return this.deps.locks.withLock(coinLock(rate.coin), async () => {
      let current = await this.deps.store.getPosition(positionId);
      if (!current || current.fundingComplete) return 0;
      // The stored record, not the listed one: a close may have landed in between.
      const due = fundingTimesDue(current, intervalMs, now);
      const closed = current.status === 'closed';
      if (closed && due.length === 0) {
        await this.deps.store.putPosition({ ...current, fundingComplete: true });
        return 0;
      }
      for (const [index, fundingTimeMs] of due.entries()) {
        current = await this.book(current, rate.rate, fundingTimeMs, closed && index === due.length - 1);
      }
      return due.length;
    });
  }

  private async book(position: Position, rate: Decimal, fundingTimeMs: number, last: boolean): Promise<Position> {
    const mark = this.deps.tickers.lastOrNull(position.perpLeg.symbol) ?? position.perpLeg.entryPrice;
    const amountUsd = rate.mul(position.perpLeg.qty).mul(mark);
    const written = await this.deps.store.appendLedger([
      {
        id: `funding:${position.id}:${fundingTimeMs}`,
        atMs: fundingTimeMs,
        kind: 'funding',
        account: 'perp',
        asset: QUOTE_ASSET,
        amount: amountUsd,
        ref: position.id,
        mode: position.mode,
      },
    ]);
    // The last funding time a closed position held leaves nothing more to book for it.
    const updated: Position = { ...position, lastFundingMs: fundingTimeMs, ...(last ? { fundingComplete: true } : {}) };
    await this.deps.store.putPosition(updated);
    if (written) {
      this.deps.events.emit({ type: 'funding', critical: false, position: updated, rate, amountUsd, fundingTimeMs });
    }
    return updated;
  }
}

/**
 * The funding times on the interval grid after the last one booked, up to now, and for a closed
 * position up to its close (a position closed at a funding time held it then).
 */
function fundingTimesDue(position: Position, intervalMs: number, nowMs: number): number[] {
  const untilMs = position.status === 'closed' ? Math.min(nowMs, position.closedAtMs ?? position.lastFundingMs) : nowMs;
  const times: number[] = [];
  for (let atMs = Math.floor(position.lastFundingMs / intervalMs) * intervalMs + intervalMs; atMs <= untilMs; atMs += intervalMs) times.push(atMs);
  return times;
}
