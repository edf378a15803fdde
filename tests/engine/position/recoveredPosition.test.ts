import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { clientOrderId } from '../../../src/engine/domain/ids.js';
import type { Operation, OrderRequest } from '../../../src/engine/domain/types.js';
import { FundingAccrual } from '../../../src/engine/position/fundingAccrual.js';
import { InProcessLocks } from '../../../src/engine/position/locks.js';
import { EventBus } from '../../../src/engine/events.js';
import { buildHarness, operation } from '../../support/engine.js';

const MINUTE_MS = 60_000;
const BTC_QTY = new Decimal('0.02');
/** A BTC funding time (every 8 h from midnight UTC). */
const T = Date.UTC(2026, 0, 1, 8);

const request = (op: Operation, kind: 'spot' | 'perp'): OrderRequest => ({
  clientOrderId: clientOrderId(op.id, kind),
  coin: 'BTC',
  kind,
  symbol: kind === 'spot' ? 'BTC/USDT' : 'BTC/USDT:USDT',
  side: kind === 'spot' ? 'buy' : 'sell',
  qty: BTC_QTY,
  reduceOnly: false,
});

describe.each(['paper', 'live'] as const)('a position rebuilt by recovery (%s)', (mode) => {
  it('is open from its fills, so the funding times between the fills and the recovery are booked', async () => {
    const h = await buildHarness({ mode });
    await h.clock.advance(T - 5 * MINUTE_MS - h.clock.nowMs());
    await h.tickers.refresh(['BTC/USDT', 'BTC/USDT:USDT']);
    const op = operation({ id: 'oprecover1t', coin: 'BTC', qty: BTC_QTY, state: 'placing', mode, nowMs: h.clock.nowMs() });
    await h.store.putOperation(op);
    // Both legs fill five minutes before T; the bot dies before it records the position.
    const spot = await h.executor.execute(request(op, 'spot'));
    await h.clock.advance(1_000);
    const perp = await h.executor.execute(request(op, 'perp'));
    const filledAtMs = Math.max(spot.timestampMs, perp.timestampMs);
    expect(filledAtMs).toBe(T - 5 * MINUTE_MS + 1_000);

    // It restarts ten minutes after T.
    await h.clock.advance(15 * MINUTE_MS);
    await h.manager.recover(op.id);
    const [position] = await h.store.listOpenPositions();
    expect(position).toMatchObject({ openedAtMs: filledAtMs, lastFundingMs: filledAtMs });

    const accrual = new FundingAccrual({ store: h.store, tickers: h.tickers, events: new EventBus(), clock: h.clock, locks: new InProcessLocks(), exchange: h.exchange });
    await h.tickers.refresh(['BTC/USDT:USDT']);
    expect(await accrual.accrue(await h.exchange.fetchFundingRates())).toBe(1);
    const funding = (await h.store.listLedger()).filter((e) => e.kind === 'funding').map((e) => e.id);
    expect(funding).toEqual([`funding:${position!.id}:${T}`]);
  });
});
