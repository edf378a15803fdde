import { OrderRejectedError, asBotError } from '../domain/errors.js';
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

  /**
   * Places an order once. Only the venue's refusal is passed on as a refusal; when the answer is
   * lost (timeout, network, a failed read after the venue accepted it) the order is looked up
   * first, and if the venue cannot say it filled, the original failure is passed on: the caller
   * treats it as unknown. A working (unfinished) answer is passed on unrecorded.
   */
  async execute(request: OrderRequest): Promise<OrderResult> {
    // A repeat of a client id the venue already has gets that order back, never a second one.
    let recorded: OrderResult | null;
    try {
      recorded = await this.lookup(request.symbol, request.clientOrderId);
    } catch (err) {
      const cause = asBotError(err);
      throw new OrderRejectedError(`not sent: checking for an earlier order ${request.clientOrderId} failed first (${cause.message})`, { cause, code: cause.code, reaction: 'retry' });
    }
    if (recorded) return recorded;
    let fill: OrderResult;
    try {
      fill = await this.exchange.placeOrder(request);
    } catch (err) {
      if (err instanceof OrderRejectedError) throw err;
      const found = await this.exchange.fetchOrderByClientId(request.symbol, request.clientOrderId).catch(() => null);
      if (!found) throw err;
      fill = found;
    }
    if (fill.status === 'working') return fill;
    const earlier = await this.store.recordFill(fill, fillLedgerEntries(fill, this.mode));
    return earlier ?? fill;
  }

  /** The recorded fill, else the venue's answer; a final one is recorded, a working one never is. */
  async lookup(symbol: string, clientOrderId: string): Promise<OrderResult | null> {
    const recorded = await this.store.getFill(clientOrderId);
    if (recorded) return recorded;
    const found = await this.exchange.fetchOrderByClientId(symbol, clientOrderId);
    if (!found || found.status === 'working') return found;
    const earlier = await this.store.recordFill(found, fillLedgerEntries(found, this.mode));
    return earlier ?? found;
  }

  balances(): Promise<Balances> {
    return this.exchange.fetchBalances();
  }
}
