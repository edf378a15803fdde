import type { Decimal } from '../domain/decimal.js';
import type { FundingPayment, FundingRate, Instrument, OrderRequest, OrderResult, SettledFundingRate, Ticker } from '../domain/types.js';

/**
 * A venue offering spot and linear-perp markets. Implemented by the simulated venue (paper mode,
 * tests, demos) and by the ccxt adapter (live). Nothing above this port sees venue types.
 */
export interface Exchange {
  readonly name: string;
  /** Both markets of every coin the venue lists for the hedge (spot + USDT linear perp). */
  loadInstruments(): Promise<Instrument[]>;
  fetchTickers(symbols: readonly string[]): Promise<Ticker[]>;
  /** Each perp's current rate: on real venues the prediction for the next funding time. */
  fetchFundingRates(): Promise<FundingRate[]>;
  /**
   * The rate the venue settled at each funding time of the perp `symbol` from `sinceMs` on, oldest
   * first (public market data). A funding time not settled yet is absent. A venue that keeps no
   * such history throws a BotError with code VENUE_UNSUPPORTED.
   */
  fetchFundingRateHistory(symbol: string, sinceMs: number): Promise<SettledFundingRate[]>;
  /** Places a market order. Throws OrderRejectedError, OrderTimeoutError or another BotError. */
  placeOrder(request: OrderRequest): Promise<OrderResult>;
  /** Looks an order up by its client order id; null when the venue never saw it. */
  fetchOrderByClientId(symbol: string, clientOrderId: string): Promise<OrderResult | null>;
  /**
   * Free balances by asset, spot account and perp (margin) account. The perp account also holds
   * open positions as `<COIN>-PERP` (negative = short) and its USDT as the ledger books it (a
   * short's sale credits its notional), so USDT − exposure at mark is the account's equity.
   */
  fetchBalances(): Promise<{ spot: Map<string, Decimal>; perp: Map<string, Decimal>; sharedQuote?: boolean; liquidationPrices?: Map<string, Decimal> }>;
  /**
   * Funding the venue paid (+) or charged (−) on this account's position in the perp `symbol`
   * from `sinceMs` on, oldest first. A venue that keeps no such history throws a BotError with
   * code VENUE_UNSUPPORTED: nothing to retry, the payments cannot be compared.
   */
  fetchFundingPayments(symbol: string, sinceMs: number): Promise<FundingPayment[]>;
}
