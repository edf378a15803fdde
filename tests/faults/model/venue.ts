import { BPS, Decimal, ZERO, floorToStep } from '../../../src/engine/domain/decimal.js';
import { OrderRejectedError, OrderTimeoutError, VenueError } from '../../../src/engine/domain/errors.js';
import {
  QUOTE_ASSET,
  perpAsset,
  type Instrument,
  type LegKind,
  type OrderRequest,
  type OrderResult,
  type Side,
  type Ticker,
} from '../../../src/engine/domain/types.js';
import type { OrderFault } from './faults.js';

export const VENUE_NAME = 'model';
const SLIPPAGE_BPS = new Decimal(5);
export const START_USDT = new Decimal(1_000_000);

/** One fill at the venue, as its trade history would show it. */
export interface VenueFill {
  /** Position in the world's event sequence when it happened. */
  seq: number;
  clientOrderId: string;
  orderId: string;
  coin: string;
  kind: LegKind;
  side: Side;
  qty: Decimal;
  price: Decimal;
  feeUsd: Decimal;
}

interface VenueOrder {
  orderId: string;
  request: OrderRequest;
  status: 'working' | 'filled' | 'partial';
  filledQty: Decimal;
  avgPrice: Decimal;
  feeUsd: Decimal;
  timestampMs: number;
  /** A `late` order answers its placement when it fills. */
  answer?: (result: OrderResult) => void;
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/**
 * One shared venue in memory: spot balances and perp positions per coin, market orders filled at a
 * fixed price ± 5 bps, taker fees in USDT. It keeps every order it accepted — a client order id is
 * NOT deduplicated once its first order is done, as on a real venue — and logs every fill.
 */
export class ModelVenue {
  readonly fills: VenueFill[] = [];
  private readonly orders: VenueOrder[] = [];
  private readonly spot = new Map<string, Decimal>([[QUOTE_ASSET, START_USDT]]);
  private readonly perp = new Map<string, Decimal>([[QUOTE_ASSET, START_USDT]]);
  private orderSeq = 0;

  constructor(
    readonly instruments: readonly Instrument[],
    private readonly prices: ReadonlyMap<string, Decimal>,
    private readonly nowMs: () => number,
    /** Called on every fill; returns the event sequence number it gets. */
    private readonly onFill: (coin: string, leg: LegKind) => number,
  ) {}

  tickers(symbols: readonly string[]): Ticker[] {
    return symbols.map((symbol) => {
      const last = this.price(symbol);
      return { symbol, bid: last, ask: last, last, timestampMs: this.nowMs() };
    });
  }

  /** Places a market order; what happens is the fault's (see faults.ts). */
  place(request: OrderRequest, fault: OrderFault): Promise<OrderResult> {
    const what = `${request.kind} ${request.side} ${request.qty.toString()} ${request.symbol} (${request.clientOrderId})`;
    if (fault === 'refused') return Promise.reject(new OrderRejectedError(`${what} rejected by the model venue`));
    if (fault === 'timeoutNever') return never();
    if (this.orders.some((o) => o.request.clientOrderId === request.clientOrderId && o.status === 'working')) {
      return Promise.reject(new OrderRejectedError(`${what}: an order with this client id is still working`, { code: 'DUPLICATE_CLIENT_ORDER_ID' }));
    }
    const refusal = this.refusal(request, request.qty);
    if (refusal) return Promise.reject(new OrderRejectedError(`${what} rejected: ${refusal}`, { code: 'INSUFFICIENT_FUNDS' }));
    const order: VenueOrder = {
      orderId: `m${++this.orderSeq}`,
      request,
      status: 'working',
      filledQty: ZERO,
      avgPrice: ZERO,
      feeUsd: ZERO,
      timestampMs: this.nowMs(),
    };
    this.orders.push(order);
    switch (fault) {
      case 'late':
        return new Promise<OrderResult>((resolve) => (order.answer = resolve));
      case 'stale':
        return Promise.reject(new OrderTimeoutError(`${what}: accepted as order ${order.orderId} but not reported done; look it up`));
      case 'partial': {
        const half = floorToStep(request.qty.div(2), this.instrument(request.symbol).qtyStep);
        this.fill(order, half.gt(0) ? half : request.qty);
        return Promise.resolve(this.result(order));
      }
      case 'lost':
        this.fill(order, request.qty);
        return Promise.reject(new VenueError(VENUE_NAME, 'VENUE_RATE_LIMITED', `${what}: accepted as order ${order.orderId}; reading its fees: rate limit hit`, 'retry'));
      case 'timeoutFilled':
        this.fill(order, request.qty);
        return never();
      default:
        this.fill(order, request.qty);
        return Promise.resolve(this.result(order));
    }
  }

  /** The newest order with this client id, as the venue reports it (null: it never saw one). */
  lookup(clientOrderId: string): OrderResult | null {
    const order = this.orders.findLast((o) => o.request.clientOrderId === clientOrderId);
    return order ? this.result(order) : null;
  }

  balances(): { spot: Map<string, Decimal>; perp: Map<string, Decimal> } {
    return { spot: new Map(this.spot), perp: new Map(this.perp) };
  }

  /** Spot coins held and the perp short (positive = short) of one coin. */
  holdings(coin: string): { spot: Decimal; perp: Decimal } {
    return { spot: this.spot.get(coin) ?? ZERO, perp: (this.perp.get(perpAsset(coin)) ?? ZERO).neg() };
  }

  /** Orders accepted and still resting (late or stale). */
  working(): number {
    return this.orders.filter((o) => o.status === 'working').length;
  }

  /** Fills the oldest `count` resting orders (all with Infinity); a late one answers its caller. */
  progress(count: number): number {
    let done = 0;
    for (const order of this.orders) {
      if (done >= count) break;
      if (order.status !== 'working') continue;
      // A sell can only deliver what the account still holds when the order executes.
      const qty = this.refusal(order.request, order.request.qty) ? this.available(order.request) : order.request.qty;
      this.fill(order, qty, qty.lt(order.request.qty));
      order.answer?.(this.result(order));
      done += 1;
    }
    return done;
  }

  instrument(symbol: string): Instrument {
    const instrument = this.instruments.find((i) => i.symbol === symbol);
    if (!instrument) throw new Error(`the model venue has no market ${symbol}`);
    return instrument;
  }

  /** Why the venue refuses an order now: a spot sell beyond the coins held, a reduce-only buy beyond the short. */
  private refusal(request: OrderRequest, qty: Decimal): string | null {
    if (request.side !== 'sell' && !request.reduceOnly) return null;
    if (request.kind === 'spot' && request.side === 'sell' && qty.gt(this.available(request))) return 'insufficient balance';
    if (request.kind === 'perp' && request.reduceOnly && qty.gt(this.available(request))) return 'reduce-only order exceeds the position';
    return null;
  }

  private available(request: OrderRequest): Decimal {
    const held = this.holdings(request.coin);
    return Decimal.max(ZERO, request.kind === 'spot' ? held.spot : held.perp);
  }

  private fill(order: VenueOrder, qty: Decimal, partial = false): void {
    const { request } = order;
    const instrument = this.instrument(request.symbol);
    const reference = this.price(request.symbol);
    const slip = SLIPPAGE_BPS.div(BPS);
    const price = request.side === 'buy' ? reference.mul(slip.plus(1)) : reference.mul(new Decimal(1).minus(slip));
    const feeUsd = qty.mul(price).mul(instrument.takerFeeRate);
    order.status = partial || qty.lt(request.qty) ? 'partial' : 'filled';
    order.filledQty = qty;
    order.avgPrice = qty.gt(0) ? price : ZERO;
    order.feeUsd = feeUsd;
    order.timestampMs = this.nowMs();
    if (qty.lte(0)) return;
    const book = request.kind === 'spot' ? this.spot : this.perp;
    const asset = request.kind === 'spot' ? request.coin : perpAsset(request.coin);
    const sign = request.side === 'buy' ? 1 : -1;
    add(book, QUOTE_ASSET, qty.mul(price).mul(-sign).minus(feeUsd));
    add(book, asset, qty.mul(sign));
    const seq = this.onFill(request.coin, request.kind);
    this.fills.push({ seq, clientOrderId: request.clientOrderId, orderId: order.orderId, coin: request.coin, kind: request.kind, side: request.side, qty, price, feeUsd });
  }

  private result(order: VenueOrder): OrderResult {
    const { request } = order;
    return {
      clientOrderId: request.clientOrderId,
      orderId: order.orderId,
      coin: request.coin,
      kind: request.kind,
      symbol: request.symbol,
      side: request.side,
      status: order.status,
      requestedQty: request.qty,
      filledQty: order.filledQty,
      avgPrice: order.avgPrice,
      feeUsd: order.feeUsd,
      simulated: true,
      timestampMs: order.timestampMs,
    };
  }

  private price(symbol: string): Decimal {
    const price = this.prices.get(symbol);
    if (!price) throw new Error(`the model venue has no price for ${symbol}`);
    return price;
  }
}

function add(book: Map<string, Decimal>, asset: string, amount: Decimal): void {
  book.set(asset, (book.get(asset) ?? ZERO).plus(amount));
}
