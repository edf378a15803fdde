import { OrderTimeoutError } from '../domain/errors.js';
import type { OrderRequest, OrderResult } from '../domain/types.js';
import type { Exchange } from '../exchange/port.js';
import type { Store } from '../store/port.js';
import { fillLedgerEntries } from './ledgerEntries.js';
import type { Balances, Executor } from './port.js';

/**
 * Live trading through the Exchange port. An order whose answer is lost (timeout, network) is
 * looked up by its client order id, never re-sent blindly; every fill is recorded once, so a
 * repeat of the same client order id returns the recorded fill.
 */
export class LiveExecutor implements Executor {
  readonly mode = 'live' as const;

  constructor(
    private readonly exchange: Exchange,
    private readonly store: Store,
  ) {}

  async execute(request: OrderRequest): Promise<OrderResult> {
    const recorded = await this.lookup(request.symbol, request.clientOrderId);
    if (recorded) return recorded;
    let fill: OrderResult;
    try {
      fill = await this.exchange.placeOrder(request);
    } catch (err) {
      // Only an unknown outcome is looked up; a refusal is final.
      if (!(err instanceof OrderTimeoutError)) throw err;
      const found = await this.exchange.fetchOrderByClientId(request.symbol, request.clientOrderId);
      if (!found) throw err;
      fill = found;
    }
    const earlier = await this.store.recordFill(fill, fillLedgerEntries(fill, this.mode));
    return earlier ?? fill;
  }

  async lookup(symbol: string, clientOrderId: string): Promise<OrderResult | null> {
    const recorded = await this.store.getFill(clientOrderId);
    if (recorded) return recorded;
    const found = await this.exchange.fetchOrderByClientId(symbol, clientOrderId);
    if (found) await this.store.recordFill(found, fillLedgerEntries(found, this.mode));
    return found;
  }

  balances(): Promise<Balances> {
    return this.exchange.fetchBalances();
  }
}
