import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { NotFoundError, OrderRejectedError } from '../../../src/engine/domain/errors.js';
import type { OrderRequest } from '../../../src/engine/domain/types.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import { SIM_SETTLED_RATES_KEPT, SimulatedExchange, perpSymbol, spotSymbol } from '../../../src/engine/exchange/simulatedExchange.js';
import { InstrumentInfo } from '../../../src/engine/market/instrumentInfo.js';
import { flush, track } from '../../support/engine.js';

const HOUR_MS = 3_600_000;

async function pricesAfter(seed: number, moves: number[]): Promise<string[]> {
  const clock = new ManualClock();
  const exchange = new SimulatedExchange({ clock, seed });
  const symbols = (await InstrumentInfo.load(exchange)).allSymbols();
  const seen: string[] = [];
  for (const ms of moves) {
    await clock.advance(ms);
    for (const t of await exchange.fetchTickers(symbols)) seen.push(`${t.symbol}=${t.last.toString()}`);
    for (const f of await exchange.fetchFundingRates()) seen.push(`${f.coin}:${f.rate.toString()}`);
  }
  return seen;
}

function buy(coin: string, qty: string, id: string): OrderRequest {
  return { clientOrderId: id, coin, kind: 'spot', symbol: spotSymbol(coin), side: 'buy', qty: new Decimal(qty), reduceOnly: false };
}

describe('SimulatedExchange markets', () => {
  it('lists at least 20 coins with both a spot and a perp market', async () => {
    const exchange = new SimulatedExchange({ clock: new ManualClock() });
    const instruments = await exchange.loadInstruments();
    const info = new InstrumentInfo(instruments);
    expect(info.coins().length).toBeGreaterThanOrEqual(20);
    for (const coin of info.coins()) {
      const pair = info.pair(coin);
      expect(pair.spot.symbol).toBe(spotSymbol(coin));
      expect(pair.perp.symbol).toBe(perpSymbol(coin));
      expect(pair.spot.kind).toBe('spot');
      expect(pair.perp.kind).toBe('perp');
    }
    // Every instrument belongs to a complete pair.
    expect(instruments).toHaveLength(info.coins().length * 2);
  });

  it('replays the same prices and funding for the same seed and clock moves', async () => {
    const moves = [1_000, 30_000, 7, 3_600_000, 250];
    const a = await pricesAfter(11, moves);
    const b = await pricesAfter(11, moves);
    expect(a).toEqual(b);
    const other = await pricesAfter(12, moves);
    expect(other).not.toEqual(a);
  });

  it('moves prices only when the clock moves', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, seed: 3 });
    const [first] = await exchange.fetchTickers(['ETH/USDT']);
    const [again] = await exchange.fetchTickers(['ETH/USDT']);
    expect(again!.last.eq(first!.last)).toBe(true);
    await clock.advance(60_000);
    const [later] = await exchange.fetchTickers(['ETH/USDT']);
    expect(later!.last.eq(first!.last)).toBe(false);
    expect(later!.timestampMs).toBe(clock.nowMs());
  });

  it('quotes on the price tick with bid ≤ last ≤ ask', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, seed: 5 });
    const info = await InstrumentInfo.load(exchange);
    await clock.advance(90_000);
    const instruments = new Map((await exchange.loadInstruments()).map((i) => [i.symbol, i]));
    for (const t of await exchange.fetchTickers(info.allSymbols())) {
      const tick = instruments.get(t.symbol)!.priceTick;
      for (const price of [t.bid, t.last, t.ask]) expect(price.div(tick).isInteger()).toBe(true);
      expect(t.bid.lte(t.last) && t.last.lte(t.ask)).toBe(true);
    }
  });

  it('has funding intervals of 1, 4 and 8 h with the next funding in the future, on the interval grid', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 5, 17, 3, 9));
    const exchange = new SimulatedExchange({ clock });
    for (const at of [0, 42 * 60_000 + 57_991, HOUR_MS]) {
      await clock.advance(at);
      const now = clock.nowMs();
      const rates = await exchange.fetchFundingRates();
      expect(new Set(rates.map((r) => r.intervalHours))).toEqual(new Set([1, 4, 8]));
      for (const r of rates) {
        const intervalMs = r.intervalHours * HOUR_MS;
        expect(r.nextFundingTimeMs).toBeGreaterThan(now);
        expect(r.nextFundingTimeMs - now).toBeLessThanOrEqual(intervalMs);
        expect(r.nextFundingTimeMs % intervalMs).toBe(0);
        expect(r.symbol).toBe(perpSymbol(r.coin));
      }
    }
  });

  it('refuses a market it does not list', async () => {
    const exchange = new SimulatedExchange({ clock: new ManualClock() });
    await expect(exchange.fetchTickers(['NOPE/USDT'])).rejects.toThrow(NotFoundError);
  });
});

describe('SimulatedExchange orders', () => {
  it('fills at last ± 5 bps, charges the taker fee and settles the balances', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, startBalancesUsdt: new Decimal(1000) });
    const [ticker] = await exchange.fetchTickers(['SOL/USDT']);
    const fill = await exchange.placeOrder(buy('SOL', '2.5', 'o1s'));
    const price = ticker!.last.mul('1.0005');
    expect(fill.avgPrice.eq(price)).toBe(true);
    expect(fill.feeUsd.eq(price.mul('2.5').mul('0.001'))).toBe(true);
    expect(fill.simulated).toBe(true);
    const { spot, perp } = await exchange.fetchBalances();
    expect(spot.get('USDT')!.eq(new Decimal(1000).minus(price.mul('2.5')).minus(fill.feeUsd))).toBe(true);
    expect(spot.get('SOL')!.eq('2.5')).toBe(true);
    expect(perp.get('USDT')!.eq(1000)).toBe(true);
  });

  it('fills a client order id once, even when the repeat arrives while the first is in flight', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, legLatencyMs: 200, startBalancesUsdt: new Decimal(1000) });
    const first = track(exchange.placeOrder(buy('SOL', '1', 'o2s')));
    const second = track(exchange.placeOrder(buy('SOL', '1', 'o2s')));
    await flush();
    expect(first.settled() || second.settled()).toBe(false);
    await clock.advance(200);
    const [a, b] = await Promise.all([first.promise, second.promise]);
    expect(b).toEqual(a);
    const third = await exchange.placeOrder(buy('SOL', '1', 'o2s'));
    expect(third).toEqual(a);
    const { spot } = await exchange.fetchBalances();
    expect(spot.get('SOL')!.eq(1)).toBe(true);
    expect(spot.get('USDT')!.eq(new Decimal(1000).minus(a.avgPrice).minus(a.feeUsd))).toBe(true);
    expect(await exchange.fetchOrderByClientId('SOL/USDT', 'o2s')).toEqual(a);
  });

  it('answers after legLatencyMs of clock time', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, legLatencyMs: 300 });
    const order = track(exchange.placeOrder(buy('ETH', '0.1', 'o3s')));
    await clock.advance(299);
    expect(order.settled()).toBe(false);
    await clock.advance(1);
    expect(order.settled()).toBe(true);
    expect((await order.promise).timestampMs).toBe(clock.nowMs());
  });

  it('rejects, or never answers, as the fault plan says', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, faults: FaultPlan.parse('spot:ETH:reject,spot:SOL:timeout') });
    await expect(exchange.placeOrder(buy('ETH', '0.1', 'o4s'))).rejects.toThrow(OrderRejectedError);
    const hung = track(exchange.placeOrder(buy('SOL', '1', 'o5s')));
    await clock.advance(3_600_000);
    expect(hung.settled()).toBe(false);
    expect(await exchange.fetchOrderByClientId('ETH/USDT', 'o4s')).toBeNull();
    expect(await exchange.fetchOrderByClientId('SOL/USDT', 'o5s')).toBeNull();
    const { spot } = await exchange.fetchBalances();
    expect(spot.get('ETH')).toBeUndefined();
    expect(spot.get('SOL')).toBeUndefined();
  });
});

function perpOrder(coin: string, side: OrderRequest['side'], qty: string, id: string): OrderRequest {
  return { clientOrderId: id, coin, kind: 'perp', symbol: perpSymbol(coin), side, qty: new Decimal(qty), reduceOnly: side === 'buy' };
}

/** The venue's own rate and perp price now (no clock move between the calls, so no step). */
async function rateAndMark(exchange: SimulatedExchange, coin: string): Promise<{ rate: Decimal; mark: Decimal }> {
  const rate = (await exchange.fetchFundingRates()).find((r) => r.coin === coin)!.rate;
  const [ticker] = await exchange.fetchTickers([perpSymbol(coin)]);
  return { rate, mark: ticker!.last };
}

describe('SimulatedExchange funding payments', () => {
  it('pays a held short rate × qty × mark at each funding time of its coin and credits the perp USDT', async () => {
    // The default start, 2026-01-01 00:00 UTC, is itself a funding time: the position opened then
    // is not paid for it, only for the ones after.
    const clock = new ManualClock();
    const start = clock.nowMs();
    const exchange = new SimulatedExchange({ clock, seed: 9, startBalancesUsdt: new Decimal(1000) });
    const fill = await exchange.placeOrder(perpOrder('BTC', 'sell', '0.01', 'f1p'));
    const expected: string[] = [];
    for (let hour = 1; hour <= 16; hour += 1) {
      await clock.advance(HOUR_MS);
      const { rate, mark } = await rateAndMark(exchange, 'BTC');
      if (hour % 8 === 0) expected.push(`${start + hour * HOUR_MS} ${rate.mul('0.01').mul(mark).toString()}`);
    }
    const payments = await exchange.fetchFundingPayments('BTC/USDT:USDT', start);
    expect(payments.map((p) => `${p.atMs} ${p.amountUsd.toString()}`)).toEqual(expected);
    expect(payments.every((p) => p.amountUsd.gt(0) && p.symbol === 'BTC/USDT:USDT' && p.coin === 'BTC')).toBe(true);
    expect(new Set(payments.map((p) => p.id)).size).toBe(2);
    const paid = payments.reduce((sum, p) => sum.plus(p.amountUsd), new Decimal(0));
    const { perp } = await exchange.fetchBalances();
    expect(perp.get('USDT')!.toString()).toBe(new Decimal(1000).plus(fill.filledQty.mul(fill.avgPrice)).minus(fill.feeUsd).plus(paid).toString());
  });

  it('pays every funding time a long clock jump crosses, at the prices after the jump', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, seed: 9 });
    await exchange.placeOrder(perpOrder('SUI', 'sell', '100', 'f2p'));
    await clock.advance(3 * HOUR_MS + 1);
    const { rate, mark } = await rateAndMark(exchange, 'SUI');
    const payments = await exchange.fetchFundingPayments('SUI/USDT:USDT', 0);
    // SUI funds every hour.
    expect(payments.map((p) => p.atMs)).toEqual([1, 2, 3].map((h) => Date.UTC(2026, 0, 1) + h * HOUR_MS));
    for (const p of payments) expect(p.amountUsd.toString()).toBe(rate.mul(100).mul(mark).toString());
  });

  it('charges a long at a positive rate, and stops paying once the position is closed', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, seed: 9 });
    await exchange.placeOrder({ ...perpOrder('ETH', 'buy', '1', 'f3p'), reduceOnly: false });
    await clock.advance(8 * HOUR_MS);
    const { rate, mark } = await rateAndMark(exchange, 'ETH');
    await exchange.placeOrder(perpOrder('ETH', 'sell', '1', 'f4p'));
    await clock.advance(16 * HOUR_MS);
    const payments = await exchange.fetchFundingPayments('ETH/USDT:USDT', 0);
    expect(rate.gt(0)).toBe(true);
    expect(payments.map((p) => p.amountUsd.toString())).toEqual([rate.mul(-1).mul(mark).toString()]);
  });

  it('answers one symbol from a time on, oldest first, and refuses a market it does not list', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, seed: 9 });
    await exchange.placeOrder(perpOrder('SUI', 'sell', '100', 'f5p'));
    await exchange.placeOrder(perpOrder('BTC', 'sell', '0.01', 'f6p'));
    await clock.advance(10 * HOUR_MS);
    const since = Date.UTC(2026, 0, 1, 6);
    const sui = await exchange.fetchFundingPayments('SUI/USDT:USDT', since);
    expect(sui.map((p) => p.atMs)).toEqual([6, 7, 8, 9, 10].map((h) => Date.UTC(2026, 0, 1, h)));
    expect((await exchange.fetchFundingPayments('BTC/USDT:USDT', since)).map((p) => p.atMs)).toEqual([Date.UTC(2026, 0, 1, 8)]);
    expect(await exchange.fetchFundingPayments('ETH/USDT:USDT', 0)).toEqual([]);
    await expect(exchange.fetchFundingPayments('NOPE/USDT:USDT', 0)).rejects.toThrow(NotFoundError);
  });

  it('holding perps leaves the seeded prices and funding rates as they were', async () => {
    const path = async (hold: boolean): Promise<string[]> => {
      const clock = new ManualClock();
      const exchange = new SimulatedExchange({ clock, seed: 4 });
      if (hold) await exchange.placeOrder(perpOrder('DOGE', 'sell', '1000', 'f7p'));
      const seen: string[] = [];
      for (const ms of [HOUR_MS, 5 * HOUR_MS, 30_000, 9 * HOUR_MS]) {
        await clock.advance(ms);
        for (const t of await exchange.fetchTickers(['DOGE/USDT', 'DOGE/USDT:USDT', 'BTC/USDT'])) seen.push(t.last.toString());
        for (const r of await exchange.fetchFundingRates()) seen.push(r.rate.toString());
      }
      return seen;
    };
    const held = await path(true);
    expect(held).toEqual(await path(false));
  });
});

describe('SimulatedExchange settled funding rates', () => {
  it('settles every coin at each of its funding times, held or not, at the rate it paid held perps', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, seed: 9 });
    await exchange.placeOrder(perpOrder('SUI', 'sell', '100', 'f8p'));
    const settledAt: string[] = [];
    for (let hour = 1; hour <= 8; hour += 1) {
      await clock.advance(HOUR_MS);
      const { rate } = await rateAndMark(exchange, 'ETH');
      if (hour === 8) settledAt.push(`${Date.UTC(2026, 0, 1, 8)} ${rate.toString()}`);
    }
    // ETH, not held, funds every 8 h; SUI, held, every hour, at the rate of each payment.
    const eth = await exchange.fetchFundingRateHistory('ETH/USDT:USDT', 0);
    expect(eth.map((s) => `${s.atMs} ${s.rate.toString()}`)).toEqual(settledAt);
    const sui = await exchange.fetchFundingRateHistory('SUI/USDT:USDT', 0);
    const payments = await exchange.fetchFundingPayments('SUI/USDT:USDT', 0);
    expect(sui.map((s) => s.atMs)).toEqual(payments.map((p) => p.atMs));
    const [ticker] = await exchange.fetchTickers(['SUI/USDT:USDT']);
    expect(ticker).toBeDefined();
    expect(sui.at(-1)!.rate.mul(100).mul(ticker!.last).toString()).toBe(payments.at(-1)!.amountUsd.toString());
    // The settled rate is the one of its own funding time, not the one quoted now.
    expect(sui.map((s) => s.rate.toString())).not.toEqual(sui.map(() => sui.at(-1)!.rate.toString()));
  });

  it('keeps only the newest settled rates per coin, however long the clock jumps', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock, seed: 9 });
    await clock.advance(400 * HOUR_MS);
    const sui = await exchange.fetchFundingRateHistory('SUI/USDT:USDT', 0);
    expect(sui).toHaveLength(SIM_SETTLED_RATES_KEPT);
    expect(sui.at(-1)!.atMs).toBe(Date.UTC(2026, 0, 1) + 400 * HOUR_MS);
    expect(sui[0]!.atMs).toBe(Date.UTC(2026, 0, 1) + (400 - SIM_SETTLED_RATES_KEPT + 1) * HOUR_MS);
    await clock.advance(HOUR_MS);
    expect((await exchange.fetchFundingRateHistory('SUI/USDT:USDT', 0)).map((s) => s.atMs)).toEqual([...sui.slice(1).map((s) => s.atMs), Date.UTC(2026, 0, 1) + 401 * HOUR_MS]);
  });
});
