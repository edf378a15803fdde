import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { VENUE_UNSUPPORTED, VenueError } from '../../../src/engine/domain/errors.js';
import type { FundingRate, Position } from '../../../src/engine/domain/types.js';
import { EventBus } from '../../../src/engine/events.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { TickerService } from '../../../src/engine/market/tickerService.js';
import { FundingAccrual } from '../../../src/engine/position/fundingAccrual.js';
import { InProcessLocks } from '../../../src/engine/position/locks.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { livePosition } from '../../support/engine.js';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** A BTC funding time (BTC funds every 8 h). */
const T = Date.UTC(2026, 0, 1, 8);
const PREDICTED = new Decimal('0.0001');

const btcRate = (nextFundingTimeMs: number, rate = PREDICTED): FundingRate => ({ coin: 'BTC', symbol: 'BTC/USDT:USDT', rate, intervalHours: 8, nextFundingTimeMs });

/** What a funding scan run at `nowMs` sees: the prediction for the next BTC funding time. */
const scanAt = (nowMs: number, rate = PREDICTED): FundingRate[] => [btcRate(Math.floor(nowMs / (8 * HOUR_MS)) * 8 * HOUR_MS + 8 * HOUR_MS, rate)];

/** The venue's settled funding rates, by funding time; an unknown time is not settled yet. */
function venueWithHistory(settled: Map<number, Decimal> = new Map()) {
  const fetchFundingRateHistory = vi.fn((_symbol: string, sinceMs: number) =>
    Promise.resolve([...settled].filter(([atMs]) => atMs >= sinceMs).sort(([a], [b]) => a - b).map(([atMs, rate]) => ({ atMs, rate }))),
  );
  return { fetchFundingRateHistory } as unknown as Exchange & { fetchFundingRateHistory: typeof fetchFundingRateHistory };
}

function setup(options: { startMs: number; settled?: Map<number, Decimal>; exchange?: Exchange }) {
  const clock = new ManualClock(options.startMs);
  const store = new MemoryStore();
  const settled = options.settled ?? new Map<number, Decimal>();
  const exchange = venueWithHistory(settled);
  const venue = options.exchange ?? exchange;
  // No ticker is cached: bookings value the perp at its entry price (95,000).
  const tickers = new TickerService(venue, clock);
  const locks = new InProcessLocks();
  /** A fresh accrual on the same store and venue, as after a restart (it remembers no prediction). */
  const restarted = () => new FundingAccrual({ store, tickers, events: new EventBus(), clock, locks, exchange: venue });
  const accrual = restarted();
  const fundingLines = async () => (await store.listLedger()).filter((e) => e.kind === 'funding').map((e) => `${e.id} ${e.amount.toString()}`);
  return { clock, store, exchange, settled, accrual, restarted, fundingLines };
}

/** The hedge, closed at `closedAtMs` by a close that ran under the coin lock like any other. */
const closed = (position: Position, closedAtMs: number): Position => ({ ...position, status: 'closed', closedAtMs, closeOperationId: 'opclose' });

describe('FundingAccrual', () => {
  it('books the funding time a hedge held when it was closed before the next scan ran', async () => {
    const { clock, store, accrual, fundingLines } = setup({ startMs: T - 2 * MINUTE_MS, settled: new Map([[T, PREDICTED]]) });
    const hedge = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
    await store.putPosition(hedge);
    expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(0);

    // T passes; 20 s later the hedge is closed; the next scan runs a minute after the last one.
    await store.putPosition(closed(hedge, T + 20_000));
    await clock.advance(MINUTE_MS * 2);

    expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(1);
    // 0.0001 × 0.01 BTC × 95,000.
    expect(await fundingLines()).toEqual([`funding:${hedge.id}:${T} 0.095`]);
    expect((await store.getPosition(hedge.id))?.lastFundingMs).toBe(T);
    // Once booked, a later scan books it never again.
    await clock.advance(MINUTE_MS);
    expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(0);
    expect(await fundingLines()).toHaveLength(1);
  });

  it('books no funding time after the close, and none the hedge did not hold', async () => {
    const { clock, store, accrual, fundingLines } = setup({ startMs: T + 17 * HOUR_MS, settled: new Map([[T, PREDICTED], [T + 8 * HOUR_MS, PREDICTED], [T + 16 * HOUR_MS, PREDICTED]]) });
    const hedge = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
    // Closed 10 h after T: T and T + 8 h were held, T + 16 h was not.
    await store.putPosition(closed(hedge, T + 10 * HOUR_MS));

    expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(2);
    expect(await fundingLines()).toEqual([`funding:${hedge.id}:${T} 0.095`, `funding:${hedge.id}:${T + 8 * HOUR_MS} 0.095`]);
  });

  it('costs no venue call and no write on later scans for a closed hedge whose funding is all booked', async () => {
    const { clock, store, exchange, accrual } = setup({ startMs: T + HOUR_MS, settled: new Map([[T, PREDICTED]]) });
    const booked = { ...closed(livePosition('BTC', '0.01', '0.01', T - HOUR_MS), T + 30 * MINUTE_MS), lastFundingMs: T };
    const nothingHeld = closed(livePosition('BTC', '0.01', '0.01', T + 10 * MINUTE_MS), T + 20 * MINUTE_MS);
    await store.putPosition(booked);
    await store.putPosition({ ...nothingHeld, id: 'pBTC2' });
    expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(0);

    const writes = vi.spyOn(store, 'putPosition');
    const reads = vi.spyOn(store, 'getPosition');
    const ledger = vi.spyOn(store, 'appendLedger');
    exchange.fetchFundingRateHistory.mockClear();
    for (let i = 0; i < 3; i += 1) {
      await clock.advance(MINUTE_MS);
      expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(0);
    }
    expect(exchange.fetchFundingRateHistory).not.toHaveBeenCalled();
    expect([writes.mock.calls.length, reads.mock.calls.length, ledger.mock.calls.length]).toEqual([0, 0, 0]);
  });

  describe('the rate of each funding time', () => {
    const NOW_QUOTED = new Decimal('0.0009');

    it('books each funding time no scan saw at the rate the venue settled then, not at the rate quoted now', async () => {
      const settled = new Map([[T, new Decimal('0.0001')], [T + 8 * HOUR_MS, new Decimal('-0.0002')]]);
      const { clock, store, accrual, fundingLines } = setup({ startMs: T + 9 * HOUR_MS, settled });
      const hedge = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
      await store.putPosition(hedge);
      // The scans stopped before T (workers down) and start again 9 h later.
      expect(await accrual.accrue(scanAt(clock.nowMs(), NOW_QUOTED))).toBe(2);
      expect(await fundingLines()).toEqual([`funding:${hedge.id}:${T} 0.095`, `funding:${hedge.id}:${T + 8 * HOUR_MS} -0.19`]);
    });

    it('books a funding time the venue has not settled yet at the prediction the scans saw for it', async () => {
      const { clock, store, accrual, fundingLines } = setup({ startMs: T - MINUTE_MS });
      const hedge = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
      await store.putPosition(hedge);
      expect(await accrual.accrue(scanAt(clock.nowMs(), new Decimal('0.0002')))).toBe(0);
      await clock.advance(2 * MINUTE_MS);
      // Now the venue quotes the next interval; its history has nothing for T yet.
      expect(await accrual.accrue(scanAt(clock.nowMs(), NOW_QUOTED))).toBe(1);
      expect(await fundingLines()).toEqual([`funding:${hedge.id}:${T} 0.19`]);
    });

    it('books nothing for a funding time with neither a settled rate nor a prediction, until it is settled', async () => {
      const { clock, store, settled, restarted, fundingLines } = setup({ startMs: T + MINUTE_MS });
      const hedge = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
      await store.putPosition(closed(hedge, T + 30_000));
      // Restarted after T: no scan of this process saw the prediction for T.
      const accrual = restarted();
      expect(await accrual.accrue(scanAt(clock.nowMs(), NOW_QUOTED))).toBe(0);
      expect(await fundingLines()).toEqual([]);
      expect(await store.getPosition(hedge.id)).toMatchObject({ lastFundingMs: T - HOUR_MS });
      expect((await store.listClosedPositionsAwaitingFunding()).map((p) => p.id)).toEqual([hedge.id]);

      settled.set(T, new Decimal('0.0003'));
      await clock.advance(MINUTE_MS);
      expect(await accrual.accrue(scanAt(clock.nowMs(), NOW_QUOTED))).toBe(1);
      expect(await fundingLines()).toEqual([`funding:${hedge.id}:${T} 0.285`]);
      expect(await store.listClosedPositionsAwaitingFunding()).toEqual([]);
    });

    it('matches a settled rate stamped a moment after the funding time', async () => {
      const { clock, store, accrual, fundingLines } = setup({ startMs: T + HOUR_MS, settled: new Map([[T + 5, new Decimal('0.0001')]]) });
      const hedge = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
      await store.putPosition(hedge);
      expect(await accrual.accrue(scanAt(clock.nowMs(), NOW_QUOTED))).toBe(1);
      expect(await fundingLines()).toEqual([`funding:${hedge.id}:${T} 0.095`]);
    });

    it('asks the venue once per coin per scan, from the earliest funding time due, and only for coins with one due', async () => {
      const { clock, store, exchange, accrual } = setup({ startMs: T + 9 * HOUR_MS, settled: new Map([[T, PREDICTED], [T + 8 * HOUR_MS, PREDICTED]]) });
      await store.putPosition(livePosition('BTC', '0.01', '0.01', T - HOUR_MS));
      await store.putPosition({ ...livePosition('BTC', '0.01', '0.01', T + HOUR_MS), id: 'pBTC2' });
      // ETH opened after its last funding time: nothing due.
      await store.putPosition({ ...livePosition('ETH', '1', '1', T + 8 * HOUR_MS + MINUTE_MS), id: 'pETH1' });
      const eth: FundingRate = { ...btcRate(T + 16 * HOUR_MS), coin: 'ETH', symbol: 'ETH/USDT:USDT' };
      expect(await accrual.accrue([...scanAt(clock.nowMs()), eth])).toBe(3);
      expect(exchange.fetchFundingRateHistory.mock.calls).toEqual([['BTC/USDT:USDT', T]]);
    });

    it('books the other coins when one history read fails, that coin on a later scan, and reports the failure', async () => {
      const base = venueWithHistory(new Map([[T, PREDICTED]]));
      const failing = {
        fetchFundingRateHistory: vi.fn((symbol: string, sinceMs: number) =>
          symbol === 'ETH/USDT:USDT' ? Promise.reject(new VenueError('sim', 'VENUE_RATE_LIMITED', 'slow down', 'retry')) : base.fetchFundingRateHistory(symbol, sinceMs),
        ),
      } as unknown as Exchange;
      const { clock, store, accrual, fundingLines } = setup({ startMs: T + HOUR_MS, exchange: failing });
      const btc = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
      await store.putPosition(btc);
      await store.putPosition({ ...livePosition('ETH', '1', '1', T - HOUR_MS), id: 'pETH1' });
      const eth: FundingRate = { ...btcRate(T + 8 * HOUR_MS), coin: 'ETH', symbol: 'ETH/USDT:USDT' };
      await expect(accrual.accrue([...scanAt(clock.nowMs()), eth])).rejects.toThrow('slow down');
      expect(await fundingLines()).toEqual([`funding:${btc.id}:${T} 0.095`]);
      expect(await store.getPosition('pETH1')).toMatchObject({ lastFundingMs: T - HOUR_MS });
    });

    it('books at the prediction when the venue keeps no rate history', async () => {
      const unsupported = {
        fetchFundingRateHistory: () => Promise.reject(new VenueError('sim', VENUE_UNSUPPORTED, 'no history', 'refuse')),
      } as unknown as Exchange;
      const { clock, store, accrual, fundingLines } = setup({ startMs: T - MINUTE_MS, exchange: unsupported });
      const hedge = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
      await store.putPosition(hedge);
      await accrual.accrue(scanAt(clock.nowMs()));
      await clock.advance(2 * MINUTE_MS);
      expect(await accrual.accrue(scanAt(clock.nowMs(), NOW_QUOTED))).toBe(1);
      expect(await fundingLines()).toEqual([`funding:${hedge.id}:${T} 0.095`]);
    });
  });
});
