import type { Decimal } from '../domain/decimal.js';
import type { OrderRequest, OrderResult, TradingMode } from '../domain/types.js';

export interface Balances {
  spot: Map<string, Decimal>;
  perp: Map<string, Decimal>;
  /**
   * Both legs draw USDT from one wallet (a unified account: bybit UTA, OKX trading account), so
   * the spot map's USDT and the perp map's USDT are the same money, not two sums.
   */
  sharedQuote?: boolean;
  /** The venue's own liquidation price of each perp position, by `<COIN>-PERP` (live only). */
  liquidationPrices?: Map<string, Decimal>;
}

/**
 * Places the engine's orders. PaperExecutor and LiveExecutor honour one contract
 * (tests/engine/execution/executor.contract.ts): a client order id is executed at most once; a
 * repeat returns the first result; `lookup` tells the fate of an order whose answer was lost.
 */
export interface Executor {
  readonly mode: TradingMode;
  execute(request: OrderRequest): Promise<OrderResult>;
  lookup(symbol: string, clientOrderId: string): Promise<OrderResult | null>;
  balances(): Promise<Balances>;
}
