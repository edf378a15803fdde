import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { PriceUnavailableError } from '../../../src/engine/domain/errors.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { DEFAULT_MAX_PRICE_AGE_MS, TickerService } from '../../../src/engine/market/tickerService.js';

function setup() {
  const clock = new ManualClock();
  const exchange = new SimulatedExchange({ clock, seed: 1 });
  return { clock, exchange, tickers: new TickerService(exchange, clock) };
}

describe('TickerService', () => {
  it('serves a price up to 60 s old and refuses it at 60.001 s', async () => {
    const { clock, tickers } = setup();
    expect(DEFAULT_MAX_PRICE_AGE_MS).toBe(60_000);
    await tickers.refresh(['BTC/USDT']);
    const fresh = tickers.get('BTC/USDT');
    await clock.advance(60_000);
    expect(tickers.get('BTC/USDT')).toEqual(fresh);
    expect(tickers.ageMs('BTC/USDT')).toBe(60_000);
    await clock.advance(1);
    expect(() => tickers.get('BTC/USDT')).toThrow(PriceUnavailableError);
    try {
      tickers.get('BTC/USDT');
    } catch (err) {
      expect((err as PriceUnavailableError).symbol).toBe('BTC/USDT');
      expect((err as PriceUnavailableError).code).toBe('PRICE_UNAVAILABLE');
      expect((err as PriceUnavailableError).reaction).toBe('retry');
    }
  });

  it('lastOrNull gives the fresh last price, and null exactly where get() would refuse', async () => {
    const { clock, tickers } = setup();
    expect(tickers.lastOrNull('BTC/USDT')).toBeNull();
    await tickers.refresh(['BTC/USDT']);
    const last = tickers.get('BTC/USDT').last;
    await clock.advance(60_000);
    expect(tickers.lastOrNull('BTC/USDT')?.toString()).toBe(last.toString());
    await clock.advance(1);
    expect(tickers.lastOrNull('BTC/USDT')).toBeNull();
  });

  it('serves again after a refresh', async () => {
    const { clock, tickers } = setup();
    await tickers.refresh(['ETH/USDT']);
    await clock.advance(120_000);
    expect(() => tickers.get('ETH/USDT')).toThrow(PriceUnavailableError);
    await tickers.refresh(['ETH/USDT']);
    expect(tickers.get('ETH/USDT').timestampMs).toBe(clock.nowMs());
  });

  it('raises PriceUnavailableError for a symbol it has no price for', async () => {
    const { tickers } = setup();
    await tickers.refresh(['BTC/USDT']);
    expect(() => tickers.get('NOPE/USDT')).toThrow(PriceUnavailableError);
    expect(() => tickers.get('ETH/USDT')).toThrow(PriceUnavailableError);
    expect(tickers.ageMs('NOPE/USDT')).toBeNull();
  });

  it('honours a custom age limit', async () => {
    const clock = new ManualClock();
    const tickers = new TickerService(new SimulatedExchange({ clock }), clock, 5_000);
    await tickers.refresh(['SOL/USDT']);
    await clock.advance(5_000);
    expect(tickers.get('SOL/USDT').symbol).toBe('SOL/USDT');
    await clock.advance(1);
    expect(() => tickers.get('SOL/USDT')).toThrow(PriceUnavailableError);
  });
});
