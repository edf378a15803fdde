import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
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

function setup(options: { startMs: number }) {
  const clock = new ManualClock(options.startMs);
  const store = new MemoryStore();
  // No ticker is cached: bookings value the perp at its entry price (95,000).
  const tickers = new TickerService({} as Exchange, clock);
  const accrual = new FundingAccrual({ store, tickers, events: new EventBus(), clock, locks: new InProcessLocks() });
  const fundingLines = async () => (await store.listLedger()).filter((e) => e.kind === 'funding').map((e) => `${e.id} ${e.amount.toString()}`);
  return { clock, store, accrual, fundingLines };
}

/** The hedge, closed at `closedAtMs` by a close that ran under the coin lock like any other. */
const closed = (position: Position, closedAtMs: number): Position => ({ ...position, status: 'closed', closedAtMs, closeOperationId: 'opclose' });

describe('FundingAccrual', () => {
  it('books the funding time a hedge held when it was closed before the next scan ran', async () => {
    const { clock, store, accrual, fundingLines } = setup({ startMs: T - 2 * MINUTE_MS });
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
    const { clock, store, accrual, fundingLines } = setup({ startMs: T + 17 * HOUR_MS });
    const hedge = livePosition('BTC', '0.01', '0.01', T - HOUR_MS);
    // Closed 10 h after T: T and T + 8 h were held, T + 16 h was not.
    await store.putPosition(closed(hedge, T + 10 * HOUR_MS));

    expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(2);
    expect(await fundingLines()).toEqual([`funding:${hedge.id}:${T} 0.095`, `funding:${hedge.id}:${T + 8 * HOUR_MS} 0.095`]);
  });

  it('costs no read and no write on later scans for a closed hedge whose funding is all booked', async () => {
    const { clock, store, accrual } = setup({ startMs: T + HOUR_MS });
    const booked = { ...closed(livePosition('BTC', '0.01', '0.01', T - HOUR_MS), T + 30 * MINUTE_MS), lastFundingMs: T };
    const nothingHeld = closed(livePosition('BTC', '0.01', '0.01', T + 10 * MINUTE_MS), T + 20 * MINUTE_MS);
    await store.putPosition(booked);
    await store.putPosition({ ...nothingHeld, id: 'pBTC2' });
    expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(0);

    const writes = vi.spyOn(store, 'putPosition');
    const reads = vi.spyOn(store, 'getPosition');
    const ledger = vi.spyOn(store, 'appendLedger');
    for (let i = 0; i < 3; i += 1) {
      await clock.advance(MINUTE_MS);
      expect(await accrual.accrue(scanAt(clock.nowMs()))).toBe(0);
    }
    expect([writes.mock.calls.length, reads.mock.calls.length, ledger.mock.calls.length]).toEqual([0, 0, 0]);
  });
});
