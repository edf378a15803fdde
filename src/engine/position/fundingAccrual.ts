import type { Clock } from '../domain/clock.js';
import type { Decimal } from '../domain/decimal.js';
import { QUOTE_ASSET, type FundingRate, type Position } from '../domain/types.js';
import type { EventBus } from '../events.js';
import type { TickerService } from '../market/tickerService.js';
import type { Store } from '../store/port.js';
import { coinLock, type Locks } from './locks.js';

const HOUR_MS = 3_600_000;

/**
 * At each funding timestamp every open position books rate × perp notional into the ledger
 * (shorts receive a positive rate). Each booking has an id made of the position and the funding
 * time, so running this twice for the same moment books once.
 */
export class FundingAccrual {
  constructor(
    private readonly deps: { store: Store; tickers: TickerService; events: EventBus; clock: Clock; locks: Locks },
  ) {}

  async accrue(rates: readonly FundingRate[]): Promise<number> {
    const byCoin = new Map(rates.map((r) => [r.coin, r]));
    const now = this.deps.clock.nowMs();
    let booked = 0;
    for (const listed of await this.deps.store.listOpenPositions()) {
      const rate = byCoin.get(listed.coin);
      if (!rate) continue;
      // Under the coin's lock, so a close running at the same time is never overwritten.
      booked += await this.deps.locks.withLock(coinLock(listed.coin), async () => {
        let current = await this.deps.store.getPosition(listed.id);
        if (current?.status !== 'open') return 0;
        const intervalMs = rate.intervalHours * HOUR_MS;
        let fundingTime = Math.floor(current.lastFundingMs / intervalMs) * intervalMs + intervalMs;
        let count = 0;
        while (fundingTime <= now) {
          current = await this.book(current, rate.rate, fundingTime);
          count += 1;
          fundingTime += intervalMs;
        }
        return count;
      });
    }
    return booked;
  }

  private async book(position: Position, rate: Decimal, fundingTimeMs: number): Promise<Position> {
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
    const updated: Position = { ...position, lastFundingMs: fundingTimeMs };
    await this.deps.store.putPosition(updated);
    if (written) {
      this.deps.events.emit({ type: 'funding', critical: false, position: updated, rate, amountUsd, fundingTimeMs });
    }
    return updated;
  }
}
