import type { Clock } from '../domain/clock.js';
import type { Decimal } from '../domain/decimal.js';
import { PriceUnavailableError } from '../domain/errors.js';
import type { Ticker } from '../domain/types.js';
import type { Exchange } from '../exchange/port.js';

export const DEFAULT_MAX_PRICE_AGE_MS = 60_000;

/**
 * One shared price cache for every reader (sizing, paper fills, risk, status). A price older than
 * `maxAgeMs` is never used: asking for it raises PriceUnavailableError.
 */
export class TickerService {
  private readonly cache = new Map<string, Ticker>();

  constructor(
    private readonly exchange: Exchange,
    private readonly clock: Clock,
    private readonly maxAgeMs = DEFAULT_MAX_PRICE_AGE_MS,
  ) {}

  async refresh(symbols: readonly string[]): Promise<void> {
    const tickers = await this.exchange.fetchTickers(symbols);
    for (const ticker of tickers) this.cache.set(ticker.symbol, ticker);
  }

  /** A fresh ticker or PriceUnavailableError saying how old the cached one is. */
  get(symbol: string): Ticker {
    const ticker = this.cache.get(symbol);
    if (!ticker) throw new PriceUnavailableError(symbol, `no price for ${symbol} yet; try again in a few seconds`);
    const ageMs = this.clock.nowMs() - ticker.timestampMs;
    if (ageMs > this.maxAgeMs) {
      throw new PriceUnavailableError(
        symbol,
        `price for ${symbol} is ${Math.round(ageMs / 1000)} s old (limit ${this.maxAgeMs / 1000} s); the market feed may be down`,
      );
    }
    return ticker;
  }

  /** The fresh last price, or null when there is none (for views that can show "stale"). */
  lastOrNull(symbol: string): Decimal | null {
    const ticker = this.cache.get(symbol);
    if (!ticker || this.clock.nowMs() - ticker.timestampMs > this.maxAgeMs) return null;
    return ticker.last;
  }

  /** Age of the cached price in ms, or null when there is none. */
  ageMs(symbol: string): number | null {
    const ticker = this.cache.get(symbol);
    return ticker ? this.clock.nowMs() - ticker.timestampMs : null;
  }
}
