import type { Exchange as CcxtClient, FundingHistory, FundingRateHistory, MarketInterface, Order, Trade } from 'ccxt';
import { createHash } from 'node:crypto';
import { Decimal, ZERO } from '../domain/decimal.js';
import { VenueError } from '../domain/errors.js';
import type { LegKind } from '../domain/types.js';
import { isCcxtError } from './ccxtErrors.js';

/**
 * Per-venue knowledge of the ccxt adapter: which raw fields hold the exact decimal strings, how a
 * client order id is looked up, how the perp account is set up and read. Everything a venue does
 * differently lives here; ccxtExchange.ts is the same for all of them.
 *
 * Money comes from the venues' raw `info` strings (ccxt's unified fields are JS numbers).
 */

export type VenueId = 'binance' | 'bybit' | 'okx';
export const SUPPORTED_VENUES: readonly VenueId[] = ['binance', 'bybit', 'okx'];
export type MarginMode = 'isolated' | 'cross';

export type Raw = Record<string, unknown>;

export function raw(value: unknown): Raw {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Raw) : {};
}

export function rawList(value: unknown): Raw[] {
  return Array.isArray(value) ? value.map(raw) : [];
}

/**
 * A field as a decimal string. Venues send strings; a bare JSON number (a few binance fields) is
 * taken by its shortest round-trip text, which is exact for the ≤15 significant digits they carry.
 */
export function field(record: Raw, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const value = record[key];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  }
  return undefined;
}

/** Parses a venue decimal string; a missing or malformed value is a bad venue answer. */
export function decimalOf(value: string | undefined, venue: string, what: string): Decimal {
  if (value === undefined) throw badAnswer(venue, `no ${what}`);
  try {
    return new Decimal(value);
  } catch {
    throw badAnswer(venue, `${what} is not a number (${value.slice(0, 40)})`);
  }
}

export function optionalDecimal(value: string | undefined, venue: string, what: string): Decimal | null {
  return value === undefined ? null : decimalOf(value, venue, what);
}

/**
 * A number ccxt computed itself (fee schedule, leverage): taken by its shortest round-trip text.
 * Used only where no venue string exists.
 */
export function decimalFromNumber(value: number | undefined | null): Decimal | null {
  return typeof value === 'number' && Number.isFinite(value) ? new Decimal(String(value)) : null;
}

function badAnswer(venue: string, detail: string): VenueError {
  return new VenueError(venue, 'VENUE_BAD_RESPONSE', `${venue} answered unexpectedly: ${detail}`, 'retry');
}

export function setupError(venue: string, message: string, cause?: unknown): VenueError {
  return new VenueError(venue, 'PERP_SETUP_REFUSED', message, 'alert', { cause });
}

/** Trading rules in the market's own amount unit (contracts on OKX swaps). */
export interface MarketRules {
  qtyStep: Decimal;
  priceTick: Decimal;
  minQty: Decimal;
  maxQty: Decimal | null;
  minNotionalUsd: Decimal;
}

/** A fee as charged: positive is paid, negative a rebate. */
export interface FeeLine {
  asset: string;
  amount: Decimal;
}

/** An order's numbers, in the market's amount unit. */
export interface RawFill {
  filled: Decimal;
  /** Null when the order was sized in another unit (bybit's quote-sized spot buys). */
  requested: Decimal | null;
  /** The venue's own word on whether the order filled in full, where `requested` cannot tell. */
  complete?: boolean;
  /** Price per coin; null while nothing filled. */
  avgPrice: Decimal | null;
  /** Null when the order carries no fee detail: the fees are in its trades. */
  fees: FeeLine[] | null;
}

export interface RawTrade {
  amount: Decimal;
  price: Decimal;
  fee: FeeLine | null;
  clientOrderId: string | undefined;
}

/** One funding payment as the venue booked it: positive received, negative paid. */
export interface RawFundingPayment {
  id: string;
  atMs: number;
  amount: Decimal;
}

/** A funding rate the venue settled, at the funding time it stamps. */
export interface RawSettledRate {
  atMs: number;
  rate: Decimal;
}

/** The perp account as the venue reports it. */
export interface PerpAccount {
  walletUsdt: Decimal;
  unrealisedPnlUsdt: Decimal;
  positions: {
    marketId: string;
    contracts: Decimal;
    signedNotionalUsd: Decimal;
    /** The venue's liquidation price; null when it reports none (e.g. no risk of liquidation). */
    liquidationPrice: Decimal | null;
  }[];
}

export interface PerpSettings {
  leverage: Decimal;
  marginMode: MarginMode;
}

export interface OrderParamsArgs {
  kind: LegKind;
  reduceOnly: boolean;
  venueClientOrderId: string;
  marginMode: MarginMode;
}

export interface VenueProfile {
  readonly id: VenueId;
  /** Spot and perp share one USDT wallet (a unified account) when both legs are on this venue. */
  readonly unifiedAccount: boolean;
  /** ccxt constructor settings (markets to load) for the legs this instance serves. */
  ccxtConfig(legs: { spot: boolean; perp: boolean }): Raw;
  /** Client order ids the venue accepts. */
  readonly clientIdPattern: RegExp;
  marketRules(market: MarketInterface): MarketRules;
  /** Coins per unit of amount: 1, or the contract value of OKX swaps. */
  contractSize(market: MarketInterface): Decimal;
  orderParams(args: OrderParamsArgs): Raw;
  orderFill(order: Order, market: MarketInterface): RawFill;
  /** Whether an order answer carries its fill (a bare acknowledgement of a new order does not). */
  reportsFill(order: Order): boolean;
  tradeFill(trade: Trade, market: MarketInterface): RawTrade;
  /** The order with this client id (open or done), or null. */
  findOrderByClientId(client: CcxtClient, market: MarketInterface, venueClientOrderId: string): Promise<Order | null>;
  /** fetchMyTrades params for one client id's trades; null when the venue's trades carry no client id. */
  tradesByClientIdParams(venueClientOrderId: string): Raw | null;
  tradesByOrderIdParams(orderId: string): Raw;
  preparePerp(client: CcxtClient, market: MarketInterface, settings: PerpSettings): Promise<void>;
  spotBalances(client: CcxtClient): Promise<Map<string, Decimal>>;
  perpAccount(client: CcxtClient): Promise<PerpAccount>;
  /**
   * Every funding payment on the perp `market` booked from sinceMs to untilMs, read page by page
   * from the venue's account history through ccxt's fetchFundingHistory.
   */
  fundingPayments(client: CcxtClient, market: MarketInterface, sinceMs: number, untilMs: number): Promise<RawFundingPayment[]>;
  /**
   * Every rate the perp `market` settled from sinceMs to untilMs, read page by page from the
   * venue's public funding rate history through ccxt's fetchFundingRateHistory.
   */
  settledFundingRates(client: CcxtClient, market: MarketInterface, sinceMs: number, untilMs: number): Promise<RawSettledRate[]>;
  /** Funding intervals by unified symbol when the rates do not carry them (binance). */
  fundingIntervalsHours?(client: CcxtClient): Promise<Map<string, number>>;
  /** The perp tickers lack bid/ask and need the book ticker too (binance USDⓈ-M). */
  readonly perpTickersNeedBidsAsks: boolean;
}

/**
 * Our client order ids (`op…s`, 18 lower-case alphanumerics) fit every venue. One that does not is
 * replaced by a hash of itself, deterministic so the same order is always looked up by the same id.
 */
export function venueClientOrderId(clientOrderId: string, pattern: RegExp, maxLength: number): string {
  if (pattern.test(clientOrderId)) return clientOrderId;
  return `h${createHash('sha256').update(clientOrderId).digest('hex').slice(0, maxLength - 1)}`;
}

export const CLIENT_ID_MAX_LENGTH: Record<VenueId, number> = { binance: 36, bybit: 36, okx: 32 };

function lineOf(asset: string | undefined, amount: string | undefined, venue: string): FeeLine | null {
  if (asset === undefined || amount === undefined) return null;
  return { asset, amount: decimalOf(amount, venue, 'fee') };
}

async function orNullWhenNotFound<T>(call: () => Promise<T>): Promise<T | null> {
  try {
    return await call();
  } catch (err) {
    if (isCcxtError(err, 'OrderNotFound')) return null;
    throw err;
  }
}

function byClientId(orders: readonly Order[], venueClientOrderId: string): Order | null {
  return orders.find((o) => o.clientOrderId === venueClientOrderId || raw(o.info)['clientOrderId'] === venueClientOrderId) ?? null;
}

const isZero = (value: string | undefined): boolean => value === undefined || new Decimal(value).isZero();

/** A funding history entry with its id and amount from the venue's raw strings. */
function fundingPaymentOf(entry: FundingHistory, venue: VenueId, idField: string, amount: (info: Raw) => Decimal): RawFundingPayment {
  const info = raw(entry.info);
  const id = field(info, idField);
  if (id === undefined || entry.timestamp === undefined) throw badAnswer(venue, `a funding payment without ${idField} or time`);
  return { id, atMs: entry.timestamp, amount: amount(info) };
}

/** A funding rate history entry with the settled rate from the venue's raw string field. */
function settledRateOf(entry: FundingRateHistory, venue: VenueId, rateField: string): RawSettledRate {
  if (entry.timestamp === undefined) throw badAnswer(venue, 'a settled funding rate without its funding time');
  return { atMs: entry.timestamp, rate: decimalOf(field(raw(entry.info), rateField), venue, `settled funding rate (${rateField})`) };
}

const DAY_MS = 86_400_000;

// ——— binance: spot /api/v3, USDⓈ-M futures /fapi ———

const BINANCE_INCOME_PAGE = 1000;
/** /fapi/v1/fundingRate answers at most 1000 rows a request. */
const BINANCE_FUNDING_RATE_PAGE = 1000;
/** The settled rate of a /fapi/v1/fundingRate row (its time is `fundingTime`). */
const BINANCE_SETTLED_RATE_FIELD = 'fundingRate';

function binanceFilter(market: MarketInterface, type: string): Raw {
  return rawList(raw(market.info)['filters']).find((f) => f['filterType'] === type) ?? {};
}

const binance: VenueProfile = {
  unifiedAccount: false,
  id: 'binance',
  clientIdPattern: /^[.A-Za-z0-9:/_-]{1,36}$/,
  perpTickersNeedBidsAsks: true,
  ccxtConfig: (legs) => ({
    options: {
      defaultType: 'spot',
      fetchMarkets: { types: [...(legs.spot ? ['spot'] : []), ...(legs.perp ? ['linear'] : [])] },
      // Margin pairs are a signed request per load and unused here.
      fetchMargins: false,
    },
  }),
  marketRules(market) {
    const lot = binanceFilter(market, 'LOT_SIZE');
    const marketLot = binanceFilter(market, 'MARKET_LOT_SIZE');
    const price = binanceFilter(market, 'PRICE_FILTER');
    const notional = binanceFilter(market, market.spot ? 'NOTIONAL' : 'MIN_NOTIONAL');
    const legacyNotional = binanceFilter(market, 'MIN_NOTIONAL');
    const dec = (v: string | undefined, what: string): Decimal => decimalOf(v, 'binance', `${market.symbol} ${what}`);
    // Market orders obey MARKET_LOT_SIZE where it is set (zeros mean "use LOT_SIZE").
    const minQty = Decimal.max(dec(field(lot, 'minQty'), 'minQty'), isZero(field(marketLot, 'minQty')) ? ZERO : dec(field(marketLot, 'minQty'), 'market minQty'));
    const maxLot = dec(field(lot, 'maxQty'), 'maxQty');
    const maxMarket = field(marketLot, 'maxQty');
    return {
      qtyStep: dec(field(lot, 'stepSize'), 'stepSize'),
      priceTick: dec(field(price, 'tickSize'), 'tickSize'),
      minQty,
      maxQty: isZero(maxMarket) ? maxLot : Decimal.min(maxLot, dec(maxMarket, 'market maxQty')),
      minNotionalUsd: dec(field(notional, 'minNotional', 'notional') ?? field(legacyNotional, 'minNotional', 'notional') ?? '0', 'minNotional'),
    };
  },
  contractSize: () => new Decimal(1),
  orderParams: ({ kind, reduceOnly, venueClientOrderId: cid }) => ({
    clientOrderId: cid,
    ...(kind === 'perp' && reduceOnly ? { reduceOnly: true } : {}),
  }),
  orderFill(order) {
    const info = raw(order.info);
    const filled = decimalOf(field(info, 'executedQty'), 'binance', 'executedQty');
    const quote = field(info, 'cummulativeQuoteQty', 'cumQuote');
    const avgPrice = filled.isZero()
      ? null
      : quote !== undefined
        ? decimalOf(quote, 'binance', 'quote quantity').div(filled)
        : decimalOf(field(info, 'avgPrice'), 'binance', 'avgPrice');
    const fills = rawList(info['fills']);
    const fees = fills.length > 0 ? fills.map((f) => lineOf(field(f, 'commissionAsset'), field(f, 'commission'), 'binance')).filter((l) => l !== null) : null;
    return { filled, requested: optionalDecimal(field(info, 'origQty'), 'binance', 'origQty'), avgPrice, fees: filled.isZero() ? [] : fees };
  },
  reportsFill: (order) => field(raw(order.info), 'executedQty') !== undefined,
  tradeFill(trade) {
    const info = raw(trade.info);
    return {
      amount: decimalOf(field(info, 'qty'), 'binance', 'trade qty'),
      price: decimalOf(field(info, 'price'), 'binance', 'trade price'),
      fee: lineOf(field(info, 'commissionAsset'), field(info, 'commission'), 'binance'),
      clientOrderId: undefined,
    };
  },
  async findOrderByClientId(client, market, cid) {
    // origClientOrderId finds the order in any state (within binance's retention); open orders are
    // the second place every venue is asked.
    const order = await orNullWhenNotFound(() => client.fetchOrder(cid, market.symbol, { origClientOrderId: cid }));
    return order ?? byClientId(await client.fetchOpenOrders(market.symbol), cid);
  },
  tradesByClientIdParams: () => null,
  tradesByOrderIdParams: (orderId) => ({ orderId }),
  async preparePerp(client, market, settings) {
    const mode = await client.fetchPositionMode(market.symbol);
    if (mode.hedged) {
      throw setupError('binance', 'binance USDⓈ-M futures is in hedge mode (dual-side positions); switch it to one-way mode in the futures preferences');
    }
    try {
      await client.setMarginMode(settings.marginMode, market.symbol);
    } catch (err) {
      // -4046 "No need to change margin type.": already set.
      if (!(err instanceof Error && err.message.includes('-4046'))) throw err;
    }
    await client.setLeverage(settings.leverage.toNumber(), market.symbol);
  },
  async fundingPayments(client, market, sinceMs, untilMs) {
    // /fapi/v1/income answers oldest first from startTime, at most `limit` rows: the next page
    // starts after the last row's time. `income` is signed as the account sees it.
    const payments: RawFundingPayment[] = [];
    for (let fromMs = sinceMs; ; ) {
      const page = await client.fetchFundingHistory(market.symbol, fromMs, BINANCE_INCOME_PAGE, { until: untilMs });
      payments.push(...page.map((e) => fundingPaymentOf(e, 'binance', 'tranId', (info) => decimalOf(field(info, 'income'), 'binance', 'funding income'))));
      const lastMs = page.at(-1)?.timestamp;
      if (page.length < BINANCE_INCOME_PAGE || lastMs === undefined) return payments;
      fromMs = lastMs + 1;
    }
  },
  async settledFundingRates(client, market, sinceMs, untilMs) {
    // GET /fapi/v1/fundingRate answers oldest first from startTime, at most `limit` rows: the next
    // page starts after the last row's funding time.
    const rates: RawSettledRate[] = [];
    for (let fromMs = sinceMs; ; ) {
      const page = await client.fetchFundingRateHistory(market.symbol, fromMs, BINANCE_FUNDING_RATE_PAGE, { until: untilMs });
      rates.push(...page.map((e) => settledRateOf(e, 'binance', BINANCE_SETTLED_RATE_FIELD)));
      const lastMs = page.at(-1)?.timestamp;
      if (page.length < BINANCE_FUNDING_RATE_PAGE || lastMs === undefined) return rates;
      fromMs = lastMs + 1;
    }
  },
  async spotBalances(client) {
    const balance = await client.fetchBalance({ type: 'spot' });
    const free = new Map<string, Decimal>();
    for (const row of rawList(raw(balance.info)['balances'])) {
      const asset = field(row, 'asset');
      const amount = decimalOf(field(row, 'free'), 'binance', 'free balance');
      if (asset && !amount.isZero()) free.set(asset, amount);
    }
    return free;
  },
  async perpAccount(client) {
    const balance = await client.fetchBalance({ type: 'swap', subType: 'linear' });
    const info = raw(balance.info);
    const usdt = rawList(info['assets']).find((a) => a['asset'] === 'USDT') ?? {};
    const held = rawList(info['positions']).filter((p) => !decimalOf(field(p, 'positionAmt') ?? '0', 'binance', 'positionAmt').isZero());
    // The account lists no liquidation price; positionRisk does, for the positions held.
    const risk = held.length > 0 ? rawList(await (client as unknown as BinancePositionRisk).fapiPrivateV3GetPositionRisk({})) : [];
    const liquidation = new Map(risk.map((r) => [field(r, 'symbol') ?? '', liquidationOf(field(r, 'liquidationPrice'), 'binance')]));
    return {
      walletUsdt: decimalOf(field(usdt, 'walletBalance') ?? '0', 'binance', 'walletBalance'),
      unrealisedPnlUsdt: decimalOf(field(usdt, 'unrealizedProfit') ?? '0', 'binance', 'unrealizedProfit'),
      positions: held.map((p) => {
        const marketId = field(p, 'symbol') ?? '';
        return {
          marketId,
          contracts: decimalOf(field(p, 'positionAmt'), 'binance', 'positionAmt'),
          signedNotionalUsd: decimalOf(field(p, 'notional') ?? '0', 'binance', 'notional'),
          liquidationPrice: liquidation.get(marketId) ?? null,
        };
      }),
    };
  },
  async fundingIntervalsHours(client) {
    // fundingInfo lists only the perps whose interval differs from the standard 8 h.
    const rows = await client.fetchFundingIntervals();
    const hours = new Map<string, number>();
    for (const row of Object.values(rows)) {
      const parsed = parseIntervalHours(row.interval);
      if (row.symbol && parsed !== null) hours.set(row.symbol, parsed);
    }
    return hours;
  },
};

// ——— bybit v5, unified trading account ———

const BYBIT_WINDOW_MS = 7 * DAY_MS;
const BYBIT_EXECUTION_PAGE = 100;
/** /v5/market/funding/history answers at most 200 rows a request. */
const BYBIT_FUNDING_RATE_PAGE = 200;
/** The settled rate of a /v5/market/funding/history row (its time is `fundingRateTimestamp`). */
const BYBIT_SETTLED_RATE_FIELD = 'fundingRate';

function bybitFeeAsset(market: MarketInterface, side: string | undefined): string {
  if (!market.spot) return market.settle ?? market.quote;
  // Spot fees are taken from what the order receives.
  return side === 'buy' ? market.base : market.quote;
}

function bybitFees(info: Raw, market: MarketInterface, side: string | undefined): FeeLine[] {
  const detail = raw(info['cumFeeDetail']);
  const lines = Object.keys(detail)
    .map((asset) => lineOf(asset, field(detail, asset), 'bybit'))
    .filter((l) => l !== null);
  if (lines.length > 0) return lines;
  const fee = field(info, 'cumExecFee');
  return fee === undefined ? [] : [{ asset: bybitFeeAsset(market, side), amount: decimalOf(fee, 'bybit', 'cumExecFee') }];
}

/**
 * Whether a spot order's `qty` is in the quote coin: `marketUnit: quoteCoin`, which is also bybit's
 * default for a market buy that names no unit (as ccxt reads it too).
 */
function bybitQtyInQuote(info: Raw, market: MarketInterface): boolean {
  if (!market.spot) return false;
  const unit = field(info, 'marketUnit');
  if (unit === 'quoteCoin') return true;
  return !unit && field(info, 'orderType') === 'Market' && field(info, 'side') === 'Buy';
}

/** What an order executed, in coins: cumExecQty, its average price and fees. */
function bybitExecuted(info: Raw, market: MarketInterface, side: string | undefined): Omit<RawFill, 'requested'> {
  const filled = decimalOf(field(info, 'cumExecQty') ?? '0', 'bybit', 'cumExecQty');
  const value = field(info, 'cumExecValue');
  const avg = field(info, 'avgPrice');
  const avgPrice = filled.isZero()
    ? null
    : value !== undefined
      ? decimalOf(value, 'bybit', 'cumExecValue').div(filled)
      : decimalOf(avg, 'bybit', 'avgPrice');
  return { filled, avgPrice, fees: bybitFees(info, market, side) };
}

const bybit: VenueProfile = {
  unifiedAccount: true,
  id: 'bybit',
  clientIdPattern: /^[A-Za-z0-9_-]{1,36}$/,
  perpTickersNeedBidsAsks: false,
  ccxtConfig: (legs) => ({
    options: { fetchMarkets: { types: [...(legs.spot ? ['spot'] : []), ...(legs.perp ? ['linear'] : [])] } },
  }),
  marketRules(market) {
    const info = raw(market.info);
    const lot = raw(info['lotSizeFilter']);
    const price = raw(info['priceFilter']);
    const dec = (v: string | undefined, what: string): Decimal => decimalOf(v, 'bybit', `${market.symbol} ${what}`);
    return market.spot
      ? {
          qtyStep: dec(field(lot, 'basePrecision'), 'basePrecision'),
          priceTick: dec(field(price, 'tickSize'), 'tickSize'),
          minQty: dec(field(lot, 'minOrderQty'), 'minOrderQty'),
          maxQty: optionalDecimal(field(lot, 'maxMarketOrderQty', 'maxOrderQty'), 'bybit', 'maxOrderQty'),
          minNotionalUsd: dec(field(lot, 'minOrderAmt') ?? '0', 'minOrderAmt'),
        }
      : {
          qtyStep: dec(field(lot, 'qtyStep'), 'qtyStep'),
          priceTick: dec(field(price, 'tickSize'), 'tickSize'),
          minQty: dec(field(lot, 'minOrderQty'), 'minOrderQty'),
          maxQty: optionalDecimal(field(lot, 'maxMktOrderQty', 'maxOrderQty'), 'bybit', 'maxMktOrderQty'),
          minNotionalUsd: dec(field(lot, 'minNotionalValue') ?? '0', 'minNotionalValue'),
        };
  },
  contractSize: () => new Decimal(1),
  orderParams: ({ kind, reduceOnly, venueClientOrderId: cid }) => ({
    clientOrderId: cid,
    ...(kind === 'perp' && reduceOnly ? { reduceOnly: true } : {}),
  }),
  orderFill(order, market) {
    const info = raw(order.info);
    if (bybitQtyInQuote(info, market)) {
      // qty is USDT to spend, cumExecQty the coins bought: the ordered coins are unknown. Nor
      // does cumExecValue reaching qty tell, as the venue buys whole base steps and may spend a
      // little less. Its status is exact: Filled, or PartiallyFilledCanceled when it stopped short.
      return { ...bybitExecuted(info, market, order.side), requested: null, complete: field(info, 'orderStatus') === 'Filled' };
    }
    return { ...bybitExecuted(info, market, order.side), requested: optionalDecimal(field(info, 'qty'), 'bybit', 'qty') };
  },
  reportsFill: (order) => field(raw(order.info), 'cumExecQty') !== undefined,
  tradeFill(trade, market) {
    const info = raw(trade.info);
    const fee = field(info, 'execFee');
    return {
      amount: decimalOf(field(info, 'execQty'), 'bybit', 'execQty'),
      price: decimalOf(field(info, 'execPrice'), 'bybit', 'execPrice'),
      fee: fee === undefined ? null : { asset: field(info, 'feeCurrency') ?? bybitFeeAsset(market, trade.side), amount: decimalOf(fee, 'bybit', 'execFee') },
      clientOrderId: field(info, 'orderLinkId'),
    };
  },
  async findOrderByClientId(client, market, cid) {
    // /v5/order/realtime with an orderLinkId answers for open and recent (last 500) orders of any
    // status; older ones are in /v5/order/history.
    const recent = await client.fetchOpenOrders(market.symbol, undefined, undefined, { orderLinkId: cid });
    const found = byClientId(recent, cid);
    if (found) return found;
    return byClientId(await client.fetchCanceledAndClosedOrders(market.symbol, undefined, undefined, { orderLinkId: cid }), cid);
  },
  tradesByClientIdParams: (cid) => ({ orderLinkId: cid }),
  tradesByOrderIdParams: (orderId) => ({ orderId }),
  async preparePerp(client, market, settings) {
    const positions = await client.fetchPositions([market.symbol]);
    if (positions.some((p) => field(raw(p.info), 'positionIdx') !== undefined && field(raw(p.info), 'positionIdx') !== '0')) {
      throw setupError('bybit', `bybit ${market.symbol} is in hedge mode; switch USDT perpetuals to one-way mode`);
    }
    const current = await client.fetchMarginMode(market.symbol);
    if (current.marginMode !== settings.marginMode) {
      // On a unified account the margin mode is account-wide.
      await client.setMarginMode(settings.marginMode, market.symbol);
    }
    try {
      await client.setLeverage(settings.leverage.toNumber(), market.symbol);
    } catch (err) {
      // 110043 "Set leverage not modified": already at this leverage.
      if (!(err instanceof Error && err.message.includes('110043'))) throw err;
    }
  },
  async fundingPayments(client, market, sinceMs, untilMs) {
    // /v5/execution/list (execType Funding) spans at most 7 days a request and pages by cursor.
    // execFee is a fee: positive is paid, so a payment received is its negation.
    const payments: RawFundingPayment[] = [];
    for (let fromMs = sinceMs; fromMs <= untilMs; fromMs += BYBIT_WINDOW_MS + 1) {
      const toMs = Math.min(fromMs + BYBIT_WINDOW_MS, untilMs);
      let cursor: string | undefined;
      do {
        const params: Raw = { until: toMs, limit: BYBIT_EXECUTION_PAGE, ...(cursor ? { cursor } : {}) };
        const page = await client.fetchFundingHistory(market.symbol, fromMs, undefined, params);
        payments.push(...page.map((e) => fundingPaymentOf(e, 'bybit', 'execId', (info) => decimalOf(field(info, 'execFee'), 'bybit', 'funding execFee').neg())));
        // ccxt leaves the venue's nextPageCursor on one of the page's entries.
        cursor = page.length === 0 ? undefined : page.map((e) => field(raw(e.info), 'nextPageCursor')).find((c) => c !== undefined);
      } while (cursor);
    }
    return payments;
  },
  async settledFundingRates(client, market, sinceMs, untilMs) {
    // GET /v5/market/funding/history with only endTime answers the `limit` rows up to it, newest
    // first: the next page ends before the oldest row seen, until one reaches sinceMs or comes back
    // short. (With startTime too, bybit does not say which rows a full page holds.)
    const rates: RawSettledRate[] = [];
    for (let toMs = untilMs; ; ) {
      const page = await client.fetchFundingRateHistory(market.symbol, undefined, BYBIT_FUNDING_RATE_PAGE, { until: toMs });
      rates.push(...page.map((e) => settledRateOf(e, 'bybit', BYBIT_SETTLED_RATE_FIELD)));
      // ccxt sorts the page oldest first.
      const oldestMs = page[0]?.timestamp;
      if (page.length < BYBIT_FUNDING_RATE_PAGE || oldestMs === undefined || oldestMs <= sinceMs) return rates;
      toMs = oldestMs - 1;
    }
  },
  async spotBalances(client) {
    const coins = await bybitWalletCoins(client);
    const free = new Map<string, Decimal>();
    for (const row of coins) {
      const asset = field(row, 'coin');
      const wallet = decimalOf(field(row, 'walletBalance') ?? '0', 'bybit', 'walletBalance');
      const amount = wallet.minus(decimalOf(field(row, 'locked') ?? '0', 'bybit', 'locked'));
      if (asset && !amount.isZero()) free.set(asset, amount);
    }
    return free;
  },
  async perpAccount(client) {
    const usdt = (await bybitWalletCoins(client)).find((c) => c['coin'] === 'USDT') ?? {};
    const positions = await client.fetchPositions(undefined, { type: 'swap', subType: 'linear', settleCoin: 'USDT' });
    return {
      walletUsdt: decimalOf(field(usdt, 'walletBalance') ?? '0', 'bybit', 'walletBalance'),
      unrealisedPnlUsdt: decimalOf(field(usdt, 'unrealisedPnl') ?? '0', 'bybit', 'unrealisedPnl'),
      positions: positions.map((p) => {
        const info = raw(p.info);
        const size = decimalOf(field(info, 'size') ?? '0', 'bybit', 'position size');
        const contracts = info['side'] === 'Sell' ? size.neg() : size;
        return {
          marketId: field(info, 'symbol') ?? '',
          contracts,
          signedNotionalUsd: contracts.mul(decimalOf(field(info, 'markPrice') ?? '0', 'bybit', 'markPrice')),
          liquidationPrice: liquidationOf(field(info, 'liqPrice'), 'bybit'),
        };
      }),
    };
  },
};

async function bybitWalletCoins(client: CcxtClient): Promise<Raw[]> {
  const balance = await client.fetchBalance({ type: 'spot' });
  const account = rawList(raw(raw(balance.info)['result'])['list'])[0] ?? {};
  return rawList(account['coin']);
}

// ——— OKX v5, trading account ———

const OKX_BILLS_PAGE = 100;
/** Rows asked of /public/funding-rate-history a request (it answers up to 400). */
const OKX_FUNDING_RATE_PAGE = 100;
/**
 * The rate OKX actually settled (`realizedRate`); the same row's `fundingRate` is the rate the
 * formula gave, which the settlement may differ from.
 */
const OKX_SETTLED_RATE_FIELD = 'realizedRate';

function okxFeeLines(info: Raw): FeeLine[] {
  // OKX reports fees as negative amounts (a charge) and rebates separately.
  const lines: FeeLine[] = [];
  const fee = lineOf(field(info, 'feeCcy'), field(info, 'fee'), 'okx');
  if (fee && !fee.amount.isZero()) lines.push({ asset: fee.asset, amount: fee.amount.neg() });
  const rebate = lineOf(field(info, 'rebateCcy'), field(info, 'rebate'), 'okx');
  if (rebate && !rebate.amount.isZero()) lines.push({ asset: rebate.asset, amount: rebate.amount.neg() });
  return lines;
}

const okx: VenueProfile = {
  unifiedAccount: true,
  id: 'okx',
  clientIdPattern: /^[A-Za-z0-9]{1,32}$/,
  perpTickersNeedBidsAsks: false,
  ccxtConfig: (legs) => ({
    options: { fetchMarkets: { types: [...(legs.spot ? ['spot'] : []), ...(legs.perp ? ['swap'] : [])] } },
  }),
  marketRules(market) {
    const info = raw(market.info);
    const dec = (v: string | undefined, what: string): Decimal => decimalOf(v, 'okx', `${market.symbol} ${what}`);
    return {
      qtyStep: dec(field(info, 'lotSz'), 'lotSz'),
      priceTick: dec(field(info, 'tickSz'), 'tickSz'),
      minQty: dec(field(info, 'minSz'), 'minSz'),
      // A spot market order's maxMktSz is in USDT; the limit-order cap is in the coin.
      maxQty: optionalDecimal(market.spot ? field(info, 'maxLmtSz') : field(info, 'maxMktSz', 'maxLmtSz'), 'okx', 'max size'),
      minNotionalUsd: ZERO,
    };
  },
  contractSize: (market) => (market.contract ? decimalOf(field(raw(market.info), 'ctVal'), 'okx', `${market.symbol} ctVal`) : new Decimal(1)),
  orderParams: ({ kind, reduceOnly, venueClientOrderId: cid, marginMode }) =>
    kind === 'perp' ? { clientOrderId: cid, marginMode, ...(reduceOnly ? { reduceOnly: true } : {}) } : { clientOrderId: cid },
  orderFill(order) {
    const info = raw(order.info);
    const filled = decimalOf(field(info, 'accFillSz') ?? '0', 'okx', 'accFillSz');
    return {
      filled,
      requested: optionalDecimal(field(info, 'sz'), 'okx', 'sz'),
      avgPrice: filled.isZero() ? null : decimalOf(field(info, 'avgPx'), 'okx', 'avgPx'),
      fees: okxFeeLines(info),
    };
  },
  reportsFill: (order) => field(raw(order.info), 'accFillSz') !== undefined,
  tradeFill(trade) {
    const info = raw(trade.info);
    return {
      amount: decimalOf(field(info, 'fillSz'), 'okx', 'fillSz'),
      price: decimalOf(field(info, 'fillPx'), 'okx', 'fillPx'),
      fee: okxFeeLines(info)[0] ?? null,
      clientOrderId: field(info, 'clOrdId'),
    };
  },
  async findOrderByClientId(client, market, cid) {
    const order = await orNullWhenNotFound(() => client.fetchOrder(cid, market.symbol, { clOrdId: cid }));
    return order ?? byClientId(await client.fetchOpenOrders(market.symbol), cid);
  },
  // The fills list (ccxt reads /trade/fills-history) cannot filter by clOrdId: recent fills are matched here.
  tradesByClientIdParams: () => ({}),
  tradesByOrderIdParams: (orderId) => ({ ordId: orderId }),
  async preparePerp(client, market, settings) {
    const mode = await client.fetchPositionMode(market.symbol);
    if (mode.hedged) {
      throw setupError('okx', 'okx account is in long/short position mode; switch it to net (one-way) mode');
    }
    // One call sets the leverage for this margin mode; OKX orders carry the mode (tdMode) themselves.
    await client.setLeverage(settings.leverage.toNumber(), market.symbol, { marginMode: settings.marginMode });
  },
  async fundingPayments(client, market, sinceMs, untilMs) {
    // /account/bills-archive (type 8, funding fee) answers newest first, at most 100 bills: the
    // next page is the bills older than the oldest one seen. The amount is the balance change,
    // or the position's margin change when the balance did not move (isolated margin).
    const payments: RawFundingPayment[] = [];
    for (let olderThan: string | undefined; ; ) {
      const params: Raw = { instId: market.id, begin: String(sinceMs), end: String(untilMs), ...(olderThan ? { after: olderThan } : {}) };
      const page = await client.fetchFundingHistory(market.symbol, undefined, OKX_BILLS_PAGE, params);
      const found = page.map((e) =>
        fundingPaymentOf(e, 'okx', 'billId', (info) => {
          const balance = optionalDecimal(field(info, 'balChg'), 'okx', 'funding balChg');
          return balance && !balance.isZero() ? balance : decimalOf(field(info, 'posBalChg'), 'okx', 'funding posBalChg');
        }),
      );
      payments.push(...found);
      // ccxt sorts the page oldest first.
      olderThan = found[0]?.id;
      if (page.length < OKX_BILLS_PAGE || olderThan === undefined) return payments;
    }
  },
  async settledFundingRates(client, market, sinceMs) {
    // GET /public/funding-rate-history answers newest first, only funding times already settled:
    // without a cursor the newest rows, with `after` the rows older than that time. Pages go back
    // until one reaches sinceMs or comes back short. No `since`: ccxt would send it as `before`,
    // and which page OKX answers to `before` alone is not what its documentation promises.
    const rates: RawSettledRate[] = [];
    for (let olderThanMs: number | undefined; ; ) {
      const params: Raw = olderThanMs !== undefined ? { after: String(olderThanMs) } : {};
      const page = await client.fetchFundingRateHistory(market.symbol, undefined, OKX_FUNDING_RATE_PAGE, params);
      rates.push(...page.map((e) => settledRateOf(e, 'okx', OKX_SETTLED_RATE_FIELD)));
      // ccxt sorts the page oldest first.
      olderThanMs = page[0]?.timestamp;
      if (page.length < OKX_FUNDING_RATE_PAGE || olderThanMs === undefined || olderThanMs <= sinceMs) return rates;
    }
  },
  async spotBalances(client) {
    const free = new Map<string, Decimal>();
    for (const row of await okxDetails(client)) {
      const asset = field(row, 'ccy');
      const amount = decimalOf(field(row, 'availBal') ?? '0', 'okx', 'availBal');
      if (asset && !amount.isZero()) free.set(asset, amount);
    }
    return free;
  },
  async perpAccount(client) {
    const usdt = (await okxDetails(client)).find((d) => d['ccy'] === 'USDT') ?? {};
    const positions = await client.fetchPositions(undefined, { instType: 'SWAP' });
    return {
      walletUsdt: decimalOf(field(usdt, 'cashBal') ?? '0', 'okx', 'cashBal'),
      unrealisedPnlUsdt: decimalOf(field(usdt, 'upl') ?? '0', 'okx', 'upl'),
      positions: positions.map((p) => {
        const info = raw(p.info);
        const marketId = field(info, 'instId') ?? '';
        let contracts = decimalOf(field(info, 'pos') ?? '0', 'okx', 'pos');
        // In long/short mode a short is a positive `pos` on the short side.
        if (info['posSide'] === 'short') contracts = contracts.abs().neg();
        const market = client.markets_by_id?.[marketId]?.[0];
        const ctVal = market ? okx.contractSize(market) : new Decimal(1);
        return {
          marketId,
          contracts,
          signedNotionalUsd: contracts.mul(ctVal).mul(decimalOf(field(info, 'markPx') ?? '0', 'okx', 'markPx')),
          liquidationPrice: liquidationOf(field(info, 'liqPx'), 'okx'),
        };
      }),
    };
  },
};

async function okxDetails(client: CcxtClient): Promise<Raw[]> {
  const balance = await client.fetchBalance();
  return rawList((rawList(raw(balance.info)['data'])[0] ?? {})['details']);
}

const PROFILES: Record<VenueId, VenueProfile> = { binance, bybit, okx };

/** binance's implicit REST method for USDⓈ-M position risk (ccxt's fetchPositions also loads leverage brackets). */
interface BinancePositionRisk {
  fapiPrivateV3GetPositionRisk(params: Raw): Promise<unknown>;
}

/** A venue's liquidation price; empty or zero means it reports none. */
function liquidationOf(text: string | undefined, venue: VenueId): Decimal | null {
  if (text === undefined || text === '') return null;
  const value = decimalOf(text, venue, 'liquidation price');
  return value.gt(0) ? value : null;
}

export function isSupportedVenue(venue: string): venue is VenueId {
  return (SUPPORTED_VENUES as readonly string[]).includes(venue);
}

export function venueProfile(venue: VenueId): VenueProfile {
  return PROFILES[venue];
}

/**
 * A funding interval in hours from ccxt's `interval` text ('8h', '30m', or OKX's raw milliseconds
 * when unusual), null when absent or unreadable.
 */
export function parseIntervalHours(interval: unknown): number | null {
  if (typeof interval !== 'string' && typeof interval !== 'number') return null;
  const text = String(interval).trim().toLowerCase();
  const match = /^(\d+(?:\.\d+)?)\s*(h|m|min|d)?$/.exec(text);
  if (!match?.[1]) return null;
  const value = Number(match[1]);
  if (!(value > 0)) return null;
  const unit = match[2];
  if (unit === 'h') return value;
  if (unit === 'm' || unit === 'min') return value / 60;
  if (unit === 'd') return value * 24;
  // A bare number: milliseconds when large (OKX), else hours.
  return value >= 60_000 ? value / 3_600_000 : value;
}
