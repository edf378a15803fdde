import type { Exchange as CcxtClient, MarketInterface, Order, Ticker as CcxtTicker } from 'ccxt';
import { systemClock, type Clock } from '../domain/clock.js';
import { Decimal, ZERO } from '../domain/decimal.js';
import {
  BotError,
  ConfigError,
  InvalidInputError,
  NotFoundError,
  OrderRejectedError,
  OrderTimeoutError,
  PriceUnavailableError,
  VENUE_UNSUPPORTED,
  VenueError,
} from '../domain/errors.js';
import {
  QUOTE_ASSET,
  perpAsset,
  type FundingPayment,
  type FundingRate,
  type Instrument,
  type LegKind,
  type OrderRequest,
  type OrderResult,
  type SettledFundingRate,
  type Side,
  type Ticker,
} from '../domain/types.js';
import { isCcxtError, mapCcxtError, type VenueAction } from './ccxtErrors.js';
import {
  CLIENT_ID_MAX_LENGTH,
  SUPPORTED_VENUES,
  decimalFromNumber,
  decimalOf,
  field,
  isSupportedVenue,
  parseIntervalHours,
  raw,
  setupError,
  venueClientOrderId,
  venueProfile,
  type FeeLine,
  type MarginMode,
  type Raw,
  type RawTrade,
  type VenueId,
  type VenueProfile,
} from './ccxtVenues.js';
import type { Exchange } from './port.js';

export interface VenueCredentials {
  apiKey: string;
  secret: string;
  /** OKX's API passphrase. */
  password?: string;
}

/** The `fetch` ccxt calls: `(url, { method, headers, body, signal, … })` → a Response. */
export type FetchImplementation = (url: string, init: Record<string, unknown>) => Promise<Response>;

export interface CcxtExchangeOptions {
  /** ccxt id of the venue of the spot leg: binance, bybit or okx. */
  spotVenue: string;
  /** ccxt id of the venue of the USDT linear perp leg; may equal spotVenue. */
  perpVenue: string;
  /** Keys by venue id; a venue without keys serves public data only. */
  credentials: Partial<Record<string, VenueCredentials>>;
  /** Testnet / sandbox endpoints where ccxt has them. */
  sandbox: boolean;
  leverage: Decimal;
  marginMode: MarginMode;
  /** Replaces ccxt's HTTP client (recorded responses in tests). */
  fetchImplementation?: FetchImplementation;
  clock?: Clock;
  logger?: { warn(details: object, message: string): void };
  /** Milliseconds between requests for ccxt's throttle; defaults to each venue's own. */
  rateLimitMs?: number;
  requestTimeoutMs?: number;
}

interface Venue {
  id: VenueId;
  client: CcxtClient;
  profile: VenueProfile;
}

interface Listing {
  instrument: Instrument;
  market: MarketInterface;
  venue: Venue;
  contractSize: Decimal;
  /** The quantity step in the venue's amount unit (contracts on OKX swaps). */
  amountStep: Decimal;
}

type CcxtConstructor = new (config: Raw) => CcxtClient;

/** Standard interval of USDT perps; binance lists only the exceptions in its fundingInfo. */
const STANDARD_FUNDING_HOURS = 8;
const FUNDING_INTERVALS_TTL_MS = 3_600_000;
/** Waits before re-reading an order that was accepted but not reported done yet. */
const SETTLE_DELAYS_MS = [0, 250, 500, 1_000, 2_000];
const FINAL_STATUSES = new Set(['closed', 'canceled', 'cancelled', 'expired', 'rejected']);
const UNLIMITED_QTY = new Decimal('1e15');

/**
 * Builds the ccxt adapter. ccxt is imported here, on first use, so a paper-only start never loads
 * it. One ccxt instance per venue: spot and perp on the same venue share it.
 */
export async function createCcxtExchange(options: CcxtExchangeOptions): Promise<CcxtExchange> {
  for (const venue of [options.spotVenue, options.perpVenue]) {
    if (!isSupportedVenue(venue)) {
      throw new ConfigError(`exchange "${venue}" is not supported; use one of ${SUPPORTED_VENUES.join(', ')}`);
    }
  }
  if (!options.leverage.gt(0)) throw new ConfigError('PERP_LEVERAGE must be positive');
  const ccxt = (await import('ccxt')) as unknown as Record<string, unknown>;
  const secrets = Object.values(options.credentials).flatMap((c) => (c ? [c.apiKey, c.secret, c.password ?? ''] : []));
  const build = (id: VenueId, legs: { spot: boolean; perp: boolean }): Venue => {
    const Ctor = ccxt[id] as CcxtConstructor;
    const profile = venueProfile(id);
    const keys = options.credentials[id];
    if (id === 'okx' && keys && !keys.password) throw new ConfigError('OKX needs its API passphrase: set OKX_API_PASSWORD');
    const config = profile.ccxtConfig(legs);
    const client = new Ctor({
      ...config,
      ...(keys ? { apiKey: keys.apiKey, secret: keys.secret, ...(keys.password ? { password: keys.password } : {}) } : {}),
      enableRateLimit: true,
      ...(options.rateLimitMs !== undefined ? { rateLimit: options.rateLimitMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { timeout: options.requestTimeoutMs } : {}),
      // Currencies need extra signed calls on every venue and are not used.
      has: { fetchCurrencies: false },
    });
    if (options.sandbox) client.setSandboxMode(true);
    if (options.fetchImplementation) client.fetchImplementation = options.fetchImplementation;
    return { id, client, profile };
  };
  const spotId = options.spotVenue as VenueId;
  const perpId = options.perpVenue as VenueId;
  const spot = build(spotId, { spot: true, perp: spotId === perpId });
  const perp = spotId === perpId ? spot : build(perpId, { spot: false, perp: true });
  return new CcxtExchange({ spot, perp, options, secrets });
}

/**
 * The Exchange port over one or two ccxt venues: spot leg on one, USDT linear perp on the same or
 * another. Markets load once; orders are market orders tagged with our client order id, and an
 * order whose answer is lost is reported as OrderTimeoutError so the caller looks it up.
 */
export class CcxtExchange implements Exchange {
  readonly name: string;
  private readonly spot: Venue;
  private readonly perp: Venue;
  private readonly clock: Clock;
  private readonly options: CcxtExchangeOptions;
  private readonly secrets: readonly string[];
  private loading: Promise<void> | null = null;
  /** Both legs of every coin listed on both venues, by unified symbol. */
  private readonly listings = new Map<string, Listing>();
  /** Every USDT linear perp of the perp venue (the funding scan covers them all), by venue id. */
  private readonly perpMarketsById = new Map<string, MarketInterface>();
  private readonly perpSetups = new Map<string, Promise<void>>();
  private fundingIntervals: { loadedAtMs: number; hours: Map<string, number> } | null = null;
  private readonly warned = new Set<string>();

  constructor(args: { spot: Venue; perp: Venue; options: CcxtExchangeOptions; secrets: readonly string[] }) {
    this.spot = args.spot;
    this.perp = args.perp;
    this.options = args.options;
    this.secrets = args.secrets;
    this.clock = args.options.clock ?? systemClock;
    this.name = this.spot === this.perp ? this.spot.id : `${this.spot.id}+${this.perp.id}`;
  }

  async loadInstruments(): Promise<Instrument[]> {
    await this.ensureMarkets();
    return [...this.listings.values()].map((l) => l.instrument);
  }

  async fetchTickers(symbols: readonly string[]): Promise<Ticker[]> {
    await this.ensureMarkets();
    const byLeg: Record<LegKind, Listing[]> = { spot: [], perp: [] };
    for (const symbol of symbols) {
      const listing = this.listing(symbol);
      byLeg[listing.instrument.kind].push(listing);
    }
    const found = new Map<string, Ticker>();
    for (const kind of ['spot', 'perp'] as const) {
      const listings = byLeg[kind];
      if (listings.length === 0) continue;
      const venue = kind === 'spot' ? this.spot : this.perp;
      const wanted = listings.map((l) => l.instrument.symbol);
      const tickers = await this.call(venue, 'read', `${kind} tickers`, () => venue.client.fetchTickers(wanted));
      const books =
        kind === 'perp' && venue.profile.perpTickersNeedBidsAsks
          ? await this.call(venue, 'read', 'perp book tickers', () => venue.client.fetchBidsAsks(wanted))
          : null;
      for (const symbol of wanted) {
        found.set(symbol, this.ticker(venue, symbol, tickers[symbol], books?.[symbol]));
      }
    }
    return symbols.map((s) => found.get(s) as Ticker);
  }

  async fetchFundingRates(): Promise<FundingRate[]> {
    await this.ensureMarkets();
    const venue = this.perp;
    const rates = await this.call(venue, 'read', 'funding rates', () => venue.client.fetchFundingRates());
    const intervals = await this.knownFundingIntervals();
    const result: FundingRate[] = [];
    for (const rate of Object.values(rates)) {
      const market = rate.symbol ? marketsOf(venue.client)[rate.symbol] : undefined;
      if (!market || !this.perpMarketsById.has(market.id ?? '')) continue;
      const info = raw(rate.info);
      const value = field(info, 'lastFundingRate', 'fundingRate');
      const rateValue = value !== undefined ? decimalOf(value, venue.id, `${market.symbol} funding rate`) : decimalFromNumber(rate.fundingRate);
      if (rateValue === null) continue;
      const intervalHours = this.intervalHours(venue, market, rate.interval ?? hoursText(field(info, 'fundingIntervalHour', 'fundingIntervalHours')), intervals);
      const next = rate.fundingTimestamp ?? rate.nextFundingTimestamp;
      result.push({
        coin: market.base,
        symbol: market.symbol,
        rate: rateValue,
        intervalHours,
        nextFundingTimeMs: typeof next === 'number' ? next : this.nextOnGrid(intervalHours),
      });
    }
    return result;
  }

  async placeOrder(request: OrderRequest): Promise<OrderResult> {
    await this.ensureMarkets();
    const listing = this.listing(request.symbol);
    const { venue, market, instrument } = listing;
    const what = `${request.side} ${request.qty.toString()} ${request.symbol}`;
    const amount = request.qty.div(listing.contractSize);
    if (!amount.gt(0) || !amount.div(listing.amountStep).isInteger()) {
      throw new OrderRejectedError(
        `${venue.id} ${what} not sent: the quantity must be a positive multiple of ${instrument.qtyStep.toString()}`,
        { code: 'QTY_OFF_STEP' },
      );
    }
    const amountNumber = exactNumber(amount);
    if (amountNumber === null) {
      throw new OrderRejectedError(`${venue.id} ${what} not sent: ${amount.toString()} has too many digits to send`, { code: 'QTY_OFF_STEP' });
    }
    if (instrument.kind === 'perp') await this.preparePerp(listing).catch((err: unknown) => Promise.reject(notSent(err)));
    const cid = this.venueClientId(venue, request.clientOrderId);
    const params = venue.profile.orderParams({ kind: instrument.kind, reduceOnly: request.reduceOnly, venueClientOrderId: cid, marginMode: this.options.marginMode });
    let order: Order;
    try {
      order = await venue.client.createOrder(market.symbol, 'market', request.side, amountNumber, undefined, params);
    } catch (err) {
      // The venue already has this client id: an earlier attempt got through. Report that order.
      if (isCcxtError(err, 'DuplicateOrderId')) {
        const earlier = await this.fetchOrderByClientId(request.symbol, request.clientOrderId).catch(() => null);
        if (earlier) return earlier;
        // The venue has an order under this id and it could not be read: unknown, never refused.
        throw new OrderTimeoutError(`${venue.id} ${what}: the venue already has order ${cid} but it could not be read; look it up`, { cause: err });
      }
      throw mapCcxtError(err, { venue: venue.id, action: 'placeOrder', what, secrets: this.secrets });
    }
    // Accepted: from here on any failure leaves the order's outcome unknown, never refused.
    let result: OrderResult;
    let settled: Order;
    try {
      settled = await this.settle(listing, order, cid, what);
      result = await this.orderResult(listing, settled, request.clientOrderId, request.qty, true);
    } catch (err) {
      if (err instanceof OrderTimeoutError) throw err;
      const detail = mapCcxtError(err, { venue: venue.id, action: 'read', what: 'order read', secrets: this.secrets }).message;
      throw new OrderTimeoutError(`${venue.id} ${what}: accepted as order ${order.id ?? '?'} but reading its fill failed (${detail}); look it up`, { cause: err });
    }
    if (result.filledQty.isZero()) {
      throw new OrderRejectedError(`${venue.id} ${what}: the venue ended the order (${settled.status ?? 'unknown'}) with nothing filled`, { code: 'ORDER_NOT_FILLED' });
    }
    return result;
  }

  async fetchOrderByClientId(symbol: string, clientOrderId: string): Promise<OrderResult | null> {
    await this.ensureMarkets();
    const listing = this.listing(symbol);
    const { venue, market } = listing;
    const cid = this.venueClientId(venue, clientOrderId);
    const what = `lookup of order ${clientOrderId} on ${symbol}`;
    const order = await this.call(venue, 'read', what, () => venue.profile.findOrderByClientId(venue.client, market, cid));
    if (order) return this.orderResult(listing, order, clientOrderId, null, isFinal(order) && venue.profile.reportsFill(order));
    const params = venue.profile.tradesByClientIdParams(cid);
    if (params === null) return null;
    const trades = await this.call(venue, 'read', what, () => venue.client.fetchMyTrades(market.symbol, undefined, undefined, params));
    const mine = trades.map((t) => ({ trade: t, fill: venue.profile.tradeFill(t, market) })).filter((t) => t.fill.clientOrderId === cid);
    if (mine.length === 0) return null;
    const first = mine[0]!.trade;
    const side: Side = first.side === 'sell' ? 'sell' : 'buy';
    return this.resultFromTrades(listing, mine.map((t) => t.fill), {
      clientOrderId,
      orderId: first.order ?? '',
      side,
      timestampMs: Math.max(...mine.map((t) => t.trade.timestamp ?? 0)) || this.clock.nowMs(),
    });
  }

  /**
   * Spot: free balance of every asset. Perp: open positions as `<COIN>-PERP` coin quantities
   * (negative = short) and USDT booked the way the ledger books perps (cash-settled: a short's sale
   * credits its notional), i.e. wallet + unrealised PnL − Σ position × mark. The engine's margin
   * check (USDT − exposure at mark) then sees the venue's equity, as in paper mode.
   */
  async fetchBalances(): Promise<{ spot: Map<string, Decimal>; perp: Map<string, Decimal>; sharedQuote: boolean; liquidationPrices: Map<string, Decimal> }> {
    await this.ensureMarkets();
    const spot = await this.call(this.spot, 'read', 'spot balances', () => this.spot.profile.spotBalances(this.spot.client));
    const account = await this.call(this.perp, 'read', 'perp account', () => this.perp.profile.perpAccount(this.perp.client));
    const perp = new Map<string, Decimal>();
    const liquidationPrices = new Map<string, Decimal>();
    let signedNotional = ZERO;
    for (const position of account.positions) {
      const market = this.perpMarketsById.get(position.marketId);
      if (!market || position.contracts.isZero()) continue;
      const qty = position.contracts.mul(this.perp.profile.contractSize(market));
      const asset = perpAsset(market.base);
      perp.set(asset, (perp.get(asset) ?? ZERO).plus(qty));
      if (position.liquidationPrice) liquidationPrices.set(asset, position.liquidationPrice);
      signedNotional = signedNotional.plus(position.signedNotionalUsd);
    }
    perp.set(QUOTE_ASSET, account.walletUsdt.plus(account.unrealisedPnlUsdt).minus(signedNotional));
    return { spot, perp, sharedQuote: this.spot === this.perp && this.spot.profile.unifiedAccount, liquidationPrices };
  }

  /**
   * Funding paid or charged on this account's position in the perp `symbol`, from the perp
   * venue's own account history (binance income, bybit executions, OKX bills), every page of it.
   */
  async fetchFundingPayments(symbol: string, sinceMs: number): Promise<FundingPayment[]> {
    await this.ensureMarkets();
    const { venue, market, instrument } = this.listing(symbol);
    if (instrument.kind !== 'perp') throw new InvalidInputError(`${symbol} is a spot market; funding is paid on the perp`);
    if (venue.client.has['fetchFundingHistory'] !== true) {
      throw new VenueError(venue.id, VENUE_UNSUPPORTED, `${venue.id} does not report funding payments, so they cannot be compared with the ledger`, 'refuse');
    }
    const rows = await this.call(venue, 'read', `funding payments of ${symbol}`, () => venue.profile.fundingPayments(venue.client, market, sinceMs, this.clock.nowMs()));
    const byId = new Map(rows.filter((r) => r.atMs >= sinceMs).map((r) => [r.id, r]));
    return [...byId.values()]
      .sort((a, b) => a.atMs - b.atMs)
      .map((r) => ({ id: r.id, symbol: instrument.symbol, coin: instrument.coin, atMs: r.atMs, amountUsd: r.amount }));
  }

  /**
   * The rates the perp venue settled for `symbol` at each funding time from `sinceMs` on, from its
   * public funding rate history (binance /fapi/v1/fundingRate, bybit /v5/market/funding/history,
   * OKX /public/funding-rate-history), exact from the raw strings, every page of it.
   */
  async fetchFundingRateHistory(symbol: string, sinceMs: number): Promise<SettledFundingRate[]> {
    await this.ensureMarkets();
    const { venue, market, instrument } = this.listing(symbol);
    if (instrument.kind !== 'perp') throw new InvalidInputError(`${symbol} is a spot market; funding is settled on the perp`);
    if (venue.client.has['fetchFundingRateHistory'] !== true) {
      throw new VenueError(venue.id, VENUE_UNSUPPORTED, `${venue.id} does not report settled funding rates`, 'refuse');
    }
    const rows = await this.call(venue, 'read', `funding rate history of ${symbol}`, () =>
      venue.profile.settledFundingRates(venue.client, market, sinceMs, this.clock.nowMs()),
    );
    // Pages may overlap at their edges: one rate per funding time.
    const byTime = new Map(rows.filter((r) => r.atMs >= sinceMs).map((r) => [r.atMs, r.rate]));
    return [...byTime].sort(([a], [b]) => a - b).map(([atMs, rate]) => ({ atMs, rate }));
  }

  private ensureMarkets(): Promise<void> {
    if (!this.loading) {
      this.loading = this.loadMarkets().catch((err: unknown) => {
        this.loading = null;
        throw err;
      });
    }
    return this.loading;
  }

  private async loadMarkets(): Promise<void> {
    const venues = this.spot === this.perp ? [this.spot] : [this.spot, this.perp];
    for (const venue of venues) await this.call(venue, 'read', 'markets', () => venue.client.loadMarkets());
    const spotByCoin = new Map<string, MarketInterface>();
    for (const market of Object.values(marketsOf(this.spot.client))) {
      if (market?.spot && market.quote === QUOTE_ASSET && market.active !== false) spotByCoin.set(market.base, market);
    }
    const perpByCoin = new Map<string, MarketInterface>();
    for (const market of Object.values(marketsOf(this.perp.client))) {
      if (!market?.swap || !market.linear || market.settle !== QUOTE_ASSET || market.quote !== QUOTE_ASSET || market.active === false) continue;
      this.perpMarketsById.set(market.id ?? market.symbol, market);
      perpByCoin.set(market.base, market);
    }
    for (const [coin, spotMarket] of spotByCoin) {
      const perpMarket = perpByCoin.get(coin);
      if (!perpMarket) continue;
      try {
        const legs = [this.listingOf(this.spot, spotMarket, coin), this.listingOf(this.perp, perpMarket, coin)];
        for (const listing of legs) this.listings.set(listing.instrument.symbol, listing);
      } catch (err) {
        // One market with unreadable rules must not hide the others.
        this.warnOnce(`market:${coin}`, { coin, err: err instanceof Error ? err.message : String(err) }, 'market rules unreadable; coin skipped');
      }
    }
  }

  private listingOf(venue: Venue, market: MarketInterface, coin: string): Listing {
    const rules = venue.profile.marketRules(market);
    const contractSize = venue.profile.contractSize(market);
    const kind: LegKind = market.spot ? 'spot' : 'perp';
    // Fee rates are ccxt's schedule for the venue's base tier (numbers, short decimals); the
    // account's own tier may be lower.
    const taker = decimalFromNumber(market.taker) ?? ZERO;
    const maker = decimalFromNumber(market.maker) ?? ZERO;
    return {
      venue,
      market,
      contractSize,
      amountStep: rules.qtyStep,
      instrument: {
        coin,
        kind,
        symbol: market.symbol,
        qtyStep: rules.qtyStep.mul(contractSize),
        priceTick: rules.priceTick,
        minQty: rules.minQty.mul(contractSize),
        maxQty: (rules.maxQty ?? UNLIMITED_QTY).mul(contractSize),
        minNotionalUsd: rules.minNotionalUsd,
        makerFeeRate: maker,
        takerFeeRate: taker,
      },
    };
  }

  private listing(symbol: string): Listing {
    const listing = this.listings.get(symbol);
    if (!listing) throw new NotFoundError(`${this.name} has no hedgeable market ${symbol}`);
    return listing;
  }

  private venueClientId(venue: Venue, clientOrderId: string): string {
    return venueClientOrderId(clientOrderId, venue.profile.clientIdPattern, CLIENT_ID_MAX_LENGTH[venue.id]);
  }

  /** Leverage, margin mode and one-way mode, once per perp symbol before its first order. */
  private preparePerp(listing: Listing): Promise<void> {
    const symbol = listing.instrument.symbol;
    let ready = this.perpSetups.get(symbol);
    if (!ready) {
      const { venue, market } = listing;
      const settings = { leverage: this.options.leverage, marginMode: this.options.marginMode };
      const what = `perp setup of ${symbol} (leverage ${settings.leverage.toString()}, ${settings.marginMode} margin, one-way mode)`;
      ready = venue.profile.preparePerp(venue.client, market, settings).catch((err: unknown) => {
        // Not remembered: the next order tries again once the account is fixed.
        this.perpSetups.delete(symbol);
        const mapped = mapCcxtError(err, { venue: venue.id, action: 'setup', what, secrets: this.secrets });
        const passOn = mapped.reaction === 'retry' || (mapped instanceof VenueError && ['PERP_SETUP_REFUSED', 'VENUE_AUTH'].includes(mapped.code));
        if (passOn) throw mapped;
        throw setupError(venue.id, `${mapped.message}; no order was sent`, err);
      });
      this.perpSetups.set(symbol, ready);
    }
    return ready;
  }

  /** Re-reads an accepted order until the venue reports it done (market orders take milliseconds). */
  private async settle(listing: Listing, placed: Order, cid: string, what: string): Promise<Order> {
    const { venue, market } = listing;
    let order = placed;
    for (const delayMs of SETTLE_DELAYS_MS) {
      if (isFinal(order) && venue.profile.reportsFill(order)) return order;
      if (delayMs > 0) await this.clock.sleep(delayMs);
      try {
        order = (await venue.profile.findOrderByClientId(venue.client, market, cid)) ?? order;
      } catch (err) {
        const detail = mapCcxtError(err, { venue: venue.id, action: 'read', what: 'order read', secrets: this.secrets }).message;
        throw new OrderTimeoutError(`${venue.id} ${what}: accepted as order ${placed.id ?? '?'} but reading its fill failed (${detail}); look it up`, { cause: err });
      }
    }
    if (isFinal(order) && venue.profile.reportsFill(order)) return order;
    throw new OrderTimeoutError(`${venue.id} ${what}: accepted as order ${placed.id ?? '?'} but not reported done; look it up`);
  }

  private async orderResult(listing: Listing, order: Order, clientOrderId: string, requestedQty: Decimal | null, final: boolean): Promise<OrderResult> {
    const { venue, market } = listing;
    const fill = venue.profile.orderFill(order, market);
    let fees = fill.fees;
    if (fees === null) {
      const orderId = order.id ?? '';
      const trades = await this.call(venue, 'read', `trades of order ${orderId}`, () =>
        venue.client.fetchMyTrades(market.symbol, undefined, undefined, venue.profile.tradesByOrderIdParams(orderId)),
      );
      fees = trades.map((t) => venue.profile.tradeFill(t, market).fee).filter((f): f is FeeLine => f !== null);
    }
    const requested = requestedQty ?? (fill.requested ? fill.requested.mul(listing.contractSize) : null);
    const grossQty = fill.filled.mul(listing.contractSize);
    return this.result(listing, {
      clientOrderId,
      orderId: order.id ?? '',
      side: order.side === 'sell' ? 'sell' : 'buy',
      grossQty,
      requestedQty: requested ?? grossQty,
      avgPrice: fill.avgPrice ?? ZERO,
      fees,
      final,
      complete: final && (requested === null ? (fill.complete ?? true) : grossQty.gte(requested)),
      timestampMs: order.lastTradeTimestamp ?? order.timestamp ?? this.clock.nowMs(),
    });
  }

  /** An order known only by its trades (it aged out of the order lists): its size is what filled. */
  private resultFromTrades(listing: Listing, trades: RawTrade[], order: { clientOrderId: string; orderId: string; side: Side; timestampMs: number }): OrderResult {
    const amount = trades.reduce((sum, t) => sum.plus(t.amount), ZERO);
    const value = trades.reduce((sum, t) => sum.plus(t.amount.mul(t.price)), ZERO);
    const grossQty = amount.mul(listing.contractSize);
    return this.result(listing, {
      ...order,
      grossQty,
      requestedQty: grossQty,
      // Contract prices are per coin, amounts per contract: value / amount is the coin price.
      avgPrice: amount.isZero() ? ZERO : value.div(amount),
      fees: trades.flatMap((t) => (t.fee ? [t.fee] : [])),
      final: true,
      complete: true,
    });
  }

  /**
   * Fees in USDT count as they are; fees in the coin are valued at the fill price and, on spot,
   * change the coins delivered (a buy receives qty − fee), so the fill matches the balance and the
   * ledger stays exact. A fee in another asset (BNB) is estimated at the taker rate.
   */
  private result(
    listing: Listing,
    fill: {
      clientOrderId: string;
      orderId: string;
      side: Side;
      grossQty: Decimal;
      requestedQty: Decimal;
      avgPrice: Decimal;
      fees: FeeLine[];
      /** The venue finished the order; otherwise it is still working and may fill more. */
      final: boolean;
      complete: boolean;
      timestampMs: number;
    },
  ): OrderResult {
    const { instrument, market } = listing;
    let feeUsd = ZERO;
    let coinFee = ZERO;
    let unpriced = false;
    for (const line of fill.fees) {
      if (line.asset === QUOTE_ASSET || line.asset === market.settle) feeUsd = feeUsd.plus(line.amount);
      else if (line.asset === instrument.coin) {
        feeUsd = feeUsd.plus(line.amount.mul(fill.avgPrice));
        if (instrument.kind === 'spot') coinFee = coinFee.plus(line.amount);
      } else unpriced = true;
    }
    if (unpriced) {
      feeUsd = feeUsd.plus(fill.grossQty.mul(fill.avgPrice).mul(instrument.takerFeeRate));
      this.warnOnce(`fee:${listing.venue.id}`, { venue: listing.venue.id, symbol: instrument.symbol }, 'fee paid in another asset; booked at the taker rate');
    }
    const filledQty = fill.side === 'buy' ? fill.grossQty.minus(coinFee) : fill.grossQty.plus(coinFee);
    return {
      clientOrderId: fill.clientOrderId,
      orderId: fill.orderId,
      coin: instrument.coin,
      kind: instrument.kind,
      symbol: instrument.symbol,
      side: fill.side,
      status: !fill.final ? 'working' : fill.complete ? 'filled' : 'partial',
      requestedQty: fill.requestedQty,
      filledQty,
      avgPrice: fill.avgPrice,
      feeUsd,
      simulated: false,
      timestampMs: fill.timestampMs,
    };
  }

  private ticker(venue: Venue, symbol: string, ticker: CcxtTicker | undefined, book: CcxtTicker | undefined): Ticker {
    if (!ticker) throw new PriceUnavailableError(symbol, `${venue.id} sent no ticker for ${symbol}`);
    const info = raw(ticker.info);
    const bookInfo = book ? raw(book.info) : info;
    // ccxt's own numbers only when the venue sent no string for the field.
    const price = (rawValue: string | undefined, fallback: number | undefined): Decimal | null =>
      rawValue !== undefined ? decimalOf(rawValue, venue.id, `${symbol} price`) : decimalFromNumber(fallback);
    const bid = price(field(bookInfo, 'bidPrice', 'bid1Price', 'bidPx'), book?.bid ?? ticker.bid);
    const ask = price(field(bookInfo, 'askPrice', 'ask1Price', 'askPx'), book?.ask ?? ticker.ask);
    const last = price(field(info, 'lastPrice', 'last'), ticker.last);
    if (!bid || !ask || !last || bid.lte(0) || ask.lte(0) || last.lte(0)) {
      throw new PriceUnavailableError(symbol, `${venue.id} ticker for ${symbol} has no bid, ask or last price`);
    }
    return { symbol, bid, ask, last, timestampMs: ticker.timestamp ?? this.clock.nowMs() };
  }

  private async knownFundingIntervals(): Promise<Map<string, number>> {
    const venue = this.perp;
    const load = venue.profile.fundingIntervalsHours;
    if (!load) return new Map();
    const now = this.clock.nowMs();
    if (!this.fundingIntervals || now - this.fundingIntervals.loadedAtMs > FUNDING_INTERVALS_TTL_MS) {
      const hours = await this.call(venue, 'read', 'funding intervals', () => load.call(venue.profile, venue.client));
      this.fundingIntervals = { loadedAtMs: now, hours };
    }
    return this.fundingIntervals.hours;
  }

  /** The rate's own interval, else the venue's list, else the market's info, else 8 h. */
  private intervalHours(venue: Venue, market: MarketInterface, interval: unknown, known: Map<string, number>): number {
    const fromRate = parseIntervalHours(interval);
    if (fromRate !== null) return fromRate;
    const listed = known.get(market.symbol);
    if (listed !== undefined) return listed;
    if (venue.profile.fundingIntervalsHours) return STANDARD_FUNDING_HOURS;
    const info = raw(market.info);
    const minutes = field(info, 'fundingInterval');
    const fromMarket = parseIntervalHours(hoursText(field(info, 'fundingIntervalHours'))) ?? (minutes !== undefined ? parseIntervalHours(`${minutes}m`) : null);
    if (fromMarket !== null) return fromMarket;
    this.warnOnce(`interval:${market.symbol}`, { venue: venue.id, symbol: market.symbol }, `no funding interval reported; assuming ${STANDARD_FUNDING_HOURS} h`);
    return STANDARD_FUNDING_HOURS;
  }

  private nextOnGrid(intervalHours: number): number {
    const intervalMs = intervalHours * 3_600_000;
    return Math.floor(this.clock.nowMs() / intervalMs) * intervalMs + intervalMs;
  }

  private warnOnce(key: string, details: object, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.logger?.warn(details, message);
  }

  private async call<T>(venue: Venue, action: VenueAction, what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof BotError) throw err;
      throw mapCcxtError(err, { venue: venue.id, action, what, secrets: this.secrets });
    }
  }
}

/**
 * A failure before the order went out: nothing was sent, so it is a refusal (with the failure's
 * code and reaction), never an unknown outcome.
 */
function notSent(err: unknown): OrderRejectedError {
  if (err instanceof OrderRejectedError) return err;
  const cause = err instanceof BotError ? err : null;
  return new OrderRejectedError(cause?.message ?? String(err), { cause: err, ...(cause ? { code: cause.code, reaction: cause.reaction } : {}) });
}

/** A bare hour count from a venue field ('8') as interval text ('8h'). */
function hoursText(hours: string | undefined): string | undefined {
  return hours === undefined ? undefined : `${hours}h`;
}

function marketsOf(client: CcxtClient): Record<string, MarketInterface | undefined> {
  return (client.markets ?? {}) as Record<string, MarketInterface | undefined>;
}

function isFinal(order: Order): boolean {
  return typeof order.status === 'string' && FINAL_STATUSES.has(order.status);
}

/**
 * ccxt takes amounts as JS numbers. A quantity on the venue's step has few digits, so the number's
 * shortest text is the same decimal; anything else is refused rather than rounded by ccxt.
 */
function exactNumber(value: Decimal): number | null {
  const n = Number(value.toString());
  return Number.isFinite(n) && new Decimal(String(n)).eq(value) ? n : null;
}
