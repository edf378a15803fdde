import { ZERO } from '../domain/decimal.js';
import { OrderTimeoutError, VenueError } from '../domain/errors.js';
import type { OrderRequest, OrderResult } from '../domain/types.js';
import { LOST_READS_FAIL_MS, STALE_FILL_DELAY_MS } from './faults.js';

interface RestingOrder {
  request: OrderRequest;
  orderId: string;
  acceptedAtMs: number;
  fillAtMs: number;
}

/**
 * What the simulated venues (the simulated exchange and paper trading) remember of orders faulted
 * `stale` (accepted, resting unfilled for a while) and `lost` (filled, with the answer and the
 * lookups failing for a while), so each behaves to its lookups as a real venue would.
 */
export class FaultedOrders {
  private readonly resting = new Map<string, RestingOrder>();
  private readonly lostUntilMs = new Map<string, number>();

  /** Accepts a stale order: it rests, and the placement ends as a real adapter's settle loop gives up. */
  rest(request: OrderRequest, orderId: string, nowMs: number): never {
    this.resting.set(request.clientOrderId, { request, orderId, acceptedAtMs: nowMs, fillAtMs: nowMs + STALE_FILL_DELAY_MS });
    throw new OrderTimeoutError(`${request.kind} ${request.side} ${request.qty.toString()} ${request.symbol}: accepted as order ${orderId} but not reported done (SIM_FAULTS stale); look it up`);
  }

  /** A lost order has filled: its answer fails with a rate limit, and so do its lookups for a while. */
  lose(request: OrderRequest, nowMs: number): never {
    this.lostUntilMs.set(request.clientOrderId, nowMs + LOST_READS_FAIL_MS);
    throw rateLimited(`reading the fill of ${request.clientOrderId}`);
  }

  /** Resting orders due to fill by `nowMs`, no longer resting. */
  takeDue(nowMs: number): { request: OrderRequest; orderId: string }[] {
    const due = [...this.resting.values()].filter((r) => r.fillAtMs <= nowMs);
    for (const r of due) this.resting.delete(r.request.clientOrderId);
    return due;
  }

  /**
   * The venue's answer for a faulted order, if it has a special one: a rate limit while a lost
   * order's reads fail, a working order while a stale one rests; null otherwise.
   */
  lookup(clientOrderId: string, nowMs: number): OrderResult | null {
    const lostUntilMs = this.lostUntilMs.get(clientOrderId);
    if (lostUntilMs !== undefined && nowMs < lostUntilMs) throw rateLimited(`lookup of order ${clientOrderId}`);
    const resting = this.resting.get(clientOrderId);
    if (!resting) return null;
    const { request } = resting;
    return {
      clientOrderId,
      orderId: resting.orderId,
      coin: request.coin,
      kind: request.kind,
      symbol: request.symbol,
      side: request.side,
      status: 'working',
      requestedQty: request.qty,
      filledQty: ZERO,
      avgPrice: ZERO,
      feeUsd: ZERO,
      simulated: true,
      timestampMs: resting.acceptedAtMs,
    };
  }
}

function rateLimited(what: string): VenueError {
  return new VenueError('simulated', 'VENUE_RATE_LIMITED', `simulated venue: rate limit hit on ${what} (SIM_FAULTS lost)`, 'retry');
}
