import type { Clock } from '../domain/clock.js';
import type { Decimal } from '../domain/decimal.js';
import { BotError, VENUE_UNSUPPORTED } from '../domain/errors.js';
import { QUOTE_ASSET, type FundingRate, type Position, type SettledFundingRate } from '../domain/types.js';
import type { EventBus } from '../events.js';
import type { Exchange } from '../exchange/port.js';
import type { TickerService } from '../market/tickerService.js';
import type { Store } from '../store/port.js';
import { assertLocksHeld, coinLock, type Locks } from './locks.js';

const HOUR_MS = 3_600_000;
/** A settled rate or prediction stamped this close to a funding time is that time's (a venue may stamp a moment after). */
const FUNDING_TIME_TOLERANCE_MS = 60_000;
/** Predictions remembered per coin: the funding times of the last few intervals. */
const PREDICTIONS_KEPT = 4;

/** Where each coin's settled rates come from this scan: the venue's answer, or why there is none. */
type History = { kind: 'read'; rates: SettledFundingRate[] } | { kind: 'unsupported' } | { kind: 'failed'; error: unknown };

/**
 * At each funding timestamp every position held through it books rate × perp notional into the
 * ledger (shorts receive a positive rate): open positions, and closed ones for the funding times
 * before their close that no scan booked yet. Each booking has an id made of the position and the
 * funding time, so running this twice for the same moment books once.
 *
 * The rate of a funding time T is the one the venue settled at T. The rate a scan reads is the
 * prediction for the next funding time, so booking a missed T with it would book the wrong
 * interval's rate. When the venue has not published T's settled rate yet, the prediction a scan
 * saw for T (its rate with nextFundingTimeMs = T) stands in: it is the rate the venue was about to
 * settle. With neither, T is not booked yet (nor anything after it, as lastFundingMs only moves
 * forward): a later scan books it once the venue reports it.
 */
export class FundingAccrual {
  /** The last rate seen for each coin's next funding times: coin → funding time → rate. */
  private readonly predictions = new Map<string, Map<number, Decimal>>();

  constructor(
    private readonly deps: {
      store: Store;
      tickers: TickerService;
      events: EventBus;
      clock: Clock;
      locks: Locks;
      exchange: Pick<Exchange, 'fetchFundingRateHistory'>;
    },
  ) {}

  /**
   * Books every funding time due; returns how many were booked. When a coin's settled rates could
   * not be read, the other coins are booked first and that coin's error is thrown afterwards (its
   * funding times wait for a later scan).
   */
  async accrue(rates: readonly FundingRate[]): Promise<number> {
    this.remember(rates);
    const byCoin = new Map(rates.map((r) => [r.coin, r]));
    const now = this.deps.clock.nowMs();
    const [open, closed] = await Promise.all([this.deps.store.listOpenPositions(), this.deps.store.listClosedPositionsAwaitingFunding()]);
    const work: { position: Position; rate: FundingRate; firstDueMs: number | null }[] = [];
    for (const position of [...open, ...closed]) {
      const rate = byCoin.get(position.coin);
      if (!rate) continue;
      const firstDueMs = fundingTimesDue(position, intervalMsOf(rate), now)[0] ?? null;
      // lastFundingMs only moves forward, so a listed open position with nothing due has nothing
      // due under the lock either: no lock, read or write for it. A closed one is marked complete.
      if (firstDueMs === null && position.status === 'open') continue;
      work.push({ position, rate, firstDueMs });
    }
    const histories = await this.readHistories(work);
    let booked = 0;
    for (const { position, rate } of work) {
      booked += await this.accrueOne(position.id, rate, histories.get(rate.coin), now);
    }
    const failed = [...histories.values()].find((h) => h.kind === 'failed');
    if (failed) throw failed.error;
    return booked;
  }

  /** The settled rates of each coin with a funding time due, one venue call per coin, from its earliest. */
  private async readHistories(work: readonly { rate: FundingRate; firstDueMs: number | null }[]): Promise<Map<string, History>> {
    const sinceByCoin = new Map<string, { symbol: string; sinceMs: number }>();
    for (const { rate, firstDueMs } of work) {
      if (firstDueMs === null) continue;
      const known = sinceByCoin.get(rate.coin);
      if (!known || firstDueMs < known.sinceMs) sinceByCoin.set(rate.coin, { symbol: rate.symbol, sinceMs: firstDueMs });
    }
    const read = async ([coin, { symbol, sinceMs }]: [string, { symbol: string; sinceMs: number }]): Promise<[string, History]> => {
      try {
        return [coin, { kind: 'read', rates: await this.deps.exchange.fetchFundingRateHistory(symbol, sinceMs) }];
      } catch (error) {
        if (error instanceof BotError && error.code === VENUE_UNSUPPORTED) return [coin, { kind: 'unsupported' }];
        return [coin, { kind: 'failed', error }];
      }
    };
    return new Map(await Promise.all([...sinceByCoin].map(read)));
  }

  /** Under the coin's lock, so a close running at the same time is never overwritten. */
  private accrueOne(positionId: string, rate: FundingRate, history: History | undefined, now: number): Promise<number> {
    return this.deps.locks.withLock(coinLock(rate.coin), async () => {
      let current = await this.deps.store.getPosition(positionId);
      if (!current || current.fundingComplete) return 0;
      // The stored record, not the listed one: a close may have landed in between.
      const due = fundingTimesDue(current, intervalMsOf(rate), now);
      const closed = current.status === 'closed';
      if (closed && due.length === 0) {
        assertLocksHeld();
        await this.deps.store.putPosition({ ...current, fundingComplete: true });
        return 0;
      }
      // A failed read books nothing for the coin: a prediction must not stand in for a rate the
      // venue may well have settled.
      if (history?.kind === 'failed') return 0;
      let count = 0;
      for (const [index, fundingTimeMs] of due.entries()) {
        const settled = history?.kind === 'read' ? settledAt(history.rates, fundingTimeMs) : null;
        const fundingRate = settled ?? this.predictionFor(rate.coin, fundingTimeMs);
        if (!fundingRate) break;
        current = await this.book(current, fundingRate, fundingTimeMs, closed && index === due.length - 1);
        count += 1;
      }
      return count;
    });
  }

  private predictionFor(coin: string, fundingTimeMs: number): Decimal | null {
    for (const [timeMs, rate] of this.predictions.get(coin) ?? []) {
      if (Math.abs(timeMs - fundingTimeMs) <= FUNDING_TIME_TOLERANCE_MS) return rate;
    }
    return null;
  }

  /** Keeps each coin's rate as the prediction for its next funding time (the last one seen wins). */
  private remember(rates: readonly FundingRate[]): void {
    for (const rate of rates) {
      let byTime = this.predictions.get(rate.coin);
      if (!byTime) this.predictions.set(rate.coin, (byTime = new Map()));
      byTime.set(rate.nextFundingTimeMs, rate.rate);
      for (const timeMs of byTime.keys()) {
        if (byTime.size <= PREDICTIONS_KEPT) break;
        byTime.delete(timeMs);
      }
    }
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
    // Written over the position read under the coin lock: not once the lock is lost (a close elsewhere may have moved on).
    assertLocksHeld();
    await this.deps.store.putPosition(updated);
    if (written) {
      this.deps.events.emit({ type: 'funding', critical: false, position: updated, rate, amountUsd, fundingTimeMs });
    }
    return updated;
  }
}

const intervalMsOf = (rate: FundingRate): number => rate.intervalHours * HOUR_MS;

/** The settled rate stamped nearest to the funding time, within the tolerance; null when none is. */
function settledAt(rates: readonly SettledFundingRate[], fundingTimeMs: number): Decimal | null {
  let best: SettledFundingRate | null = null;
  for (const settled of rates) {
    const offMs = Math.abs(settled.atMs - fundingTimeMs);
    if (offMs <= FUNDING_TIME_TOLERANCE_MS && (!best || offMs < Math.abs(best.atMs - fundingTimeMs))) best = settled;
  }
  return best?.rate ?? null;
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
