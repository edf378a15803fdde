import { Decimal } from '../../../src/engine/domain/decimal.js';
import type { LegKind, OrderRequest } from '../../../src/engine/domain/types.js';
import { createCcxtExchange, type CcxtExchange, type CcxtExchangeOptions } from '../../../src/engine/exchange/ccxtExchange.js';
import { HttpReplayer, type Reply } from './ccxtReplayer.js';

/** Keys the tests hand to ccxt; none of them may ever show up in an error message. */
export const TEST_KEYS = {
  binance: { apiKey: 'bnKEYvmPUN4ds0nhgM1k1aB2c3D4e5F6g7H8i9J0', secret: 'bnSECRETNhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j' },
  bybit: { apiKey: 'byKEYXXXXXXXXXX01', secret: 'bySECRETXXXXXXXXXXXXXXXXXXXXXXXXXXXX01' },
  okx: { apiKey: '3b1f4c2e-okx-key-0000-000000000001', secret: 'OKXSECRET0123456789ABCDEF01234567', password: 'okx-Passphrase-1' },
};

export type TestVenue = keyof typeof TEST_KEYS;

/** A fresh exchange over a replayer; ccxt's throttle is kept on but shortened. */
export async function exchangeOver(
  venue: TestVenue,
  replayer: HttpReplayer,
  overrides: Partial<CcxtExchangeOptions> = {},
): Promise<CcxtExchange> {
  return createCcxtExchange({
    spotVenue: venue,
    perpVenue: venue,
    credentials: { [venue]: TEST_KEYS[venue] },
    sandbox: false,
    leverage: new Decimal(1),
    marginMode: 'isolated',
    fetchImplementation: replayer.fetch,
    rateLimitMs: 1,
    ...overrides,
  });
}

/** binance spot (/api/v3) and USDⓈ-M futures (/fapi): markets, prices, an empty order book of ours. */
export function binanceVenue(): HttpReplayer {
  return new HttpReplayer('binance')
    .on('GET', '/api/v3/exchangeInfo', 'spot-exchangeInfo')
    .on('GET', '/fapi/v1/exchangeInfo', 'fapi-exchangeInfo')
    .on('GET', '/api/v3/ticker/24hr', 'spot-ticker-24hr')
    .on('GET', '/fapi/v1/ticker/24hr', 'fapi-ticker-24hr')
    .on('GET', '/fapi/v1/ticker/bookTicker', 'fapi-bookTicker')
    .on('GET', '/fapi/v1/premiumIndex', 'fapi-premiumIndex')
    .on('GET', '/fapi/v1/fundingInfo', 'fapi-fundingInfo')
    .on('GET', '/api/v3/order', 'order-not-found')
    .on('GET', '/fapi/v1/order', 'order-not-found')
    .on('GET', '/api/v3/openOrders', 'open-orders-empty')
    .on('GET', '/fapi/v1/openOrders', 'open-orders-empty')
    .on('GET', '/fapi/v1/positionSide/dual', 'fapi-position-mode-oneway')
    .on('POST', '/fapi/v1/marginType', 'fapi-margin-type-unchanged')
    .on('POST', '/fapi/v1/leverage', 'fapi-leverage')
    .on('GET', '/api/v3/account', 'spot-account')
    .on('GET', '/fapi/v3/account', 'fapi-account')
    .on('GET', '/fapi/v3/positionRisk', 'fapi-position-risk')
    .on('GET', '/fapi/v1/income', 'fapi-income-funding')
    .on('GET', '/fapi/v1/fundingRate', 'fapi-fundingRate');
}

/** bybit v5, unified trading account. */
export function bybitVenue(): HttpReplayer {
  return new HttpReplayer('bybit')
    .onParams('GET', '/v5/market/instruments-info', { category: 'spot' }, 'instruments-spot')
    .onParams('GET', '/v5/market/instruments-info', { category: 'linear' }, 'instruments-linear')
    .onParams('GET', '/v5/market/instruments-info', { category: 'linear', status: 'PreLaunch' }, 'instruments-prelaunch-empty')
    .onParams('GET', '/v5/market/tickers', { category: 'spot' }, 'tickers-spot')
    .onParams('GET', '/v5/market/tickers', { category: 'linear' }, 'tickers-linear')
    .on('GET', '/v5/user/query-api', 'query-api')
    .on('GET', '/v5/account/info', 'account-info')
    .on('GET', '/v5/order/realtime', 'orders-empty')
    .on('GET', '/v5/order/history', 'orders-empty')
    .on('GET', '/v5/execution/list', 'executions-empty')
    .onParams('GET', '/v5/execution/list', { execType: 'Funding' }, 'executions-funding')
    .on('GET', '/v5/market/funding/history', 'funding-history')
    .onParams('GET', '/v5/position/list', { symbol: 'BTCUSDT' }, 'position-oneway')
    .onParams('GET', '/v5/position/list', { settleCoin: 'USDT' }, 'positions-open')
    .on('POST', '/v5/position/set-leverage', 'leverage-not-modified')
    .on('GET', '/v5/account/wallet-balance', 'wallet-balance');
}

/** OKX v5 trading account in net (one-way) position mode. */
export function okxVenue(): HttpReplayer {
  return new HttpReplayer('okx')
    .onParams('GET', '/api/v5/public/instruments', { instType: 'SPOT' }, 'instruments-spot')
    .onParams('GET', '/api/v5/public/instruments', { instType: 'SWAP' }, 'instruments-swap')
    .onParams('GET', '/api/v5/market/tickers', { instType: 'SPOT' }, 'tickers-spot')
    .onParams('GET', '/api/v5/market/tickers', { instType: 'SWAP' }, 'tickers-swap')
    .on('GET', '/api/v5/public/funding-rate', 'funding-rates')
    .on('GET', '/api/v5/trade/order', 'order-not-found')
    .on('GET', '/api/v5/trade/orders-pending', 'orders-empty')
    .on('GET', '/api/v5/trade/fills-history', 'fills-empty')
    .on('GET', '/api/v5/account/config', 'account-config-net')
    .on('POST', '/api/v5/account/set-leverage', 'set-leverage')
    .on('GET', '/api/v5/account/balance', 'balance')
    .on('GET', '/api/v5/account/positions', 'positions')
    .on('GET', '/api/v5/account/bills-archive', 'bills-funding')
    .on('GET', '/api/v5/public/funding-rate-history', 'funding-rate-history');
}

const order = (clientOrderId: string, kind: LegKind, side: OrderRequest['side'], qty: string, reduceOnly = false): OrderRequest => ({
  clientOrderId,
  coin: 'BTC',
  kind,
  symbol: kind === 'spot' ? 'BTC/USDT' : 'BTC/USDT:USDT',
  side,
  qty: new Decimal(qty),
  reduceOnly,
});

/** The orders the fixtures know (their client ids are in the recorded answers). */
export const ORDERS = {
  spotBuy: order('opmjvk2a9cx4t8hs', 'spot', 'buy', '0.01'),
  perpSell: order('opmjvk2a9cx4t8hp', 'perp', 'sell', '0.01'),
  perpSellPartial: order('opmjvk2b1dz7q3mp', 'perp', 'sell', '0.01'),
  perpBuyClose: order('opmjvk2a9cx4t8hpu', 'perp', 'buy', '0.01', true),
  refused: order('opmjvk2c3ex9r5ns', 'spot', 'buy', '0.00002'),
};

/**
 * The funding fixtures' story: the BTC short of the fills above, opened 2026-01-01 00:00:01 UTC,
 * paid three times (+0.09501234, −0.01900231 at a negative rate, +0.07424031) at the rates the
 * venue settled then (0.01 %, −0.002 %, 0.007815 %); read at 00:30 the day after.
 */
export const FUNDING = {
  symbol: 'BTC/USDT:USDT',
  openedAtMs: Date.UTC(2026, 0, 1, 0, 0, 1),
  recordedAtMs: Date.UTC(2026, 0, 2, 0, 30),
  totalUsd: '0.15025034',
  /** `atMs rate` of each settled rate in the rate history fixtures, oldest first. */
  settledRates: ['1767254400000 0.0001', '1767283200000 -0.00002', '1767312000000 0.00007815'],
};

/** Answers `after` once the venue has seen `method path`, `before` until then. */
export function afterSeen(method: string, path: string, after: string, before: string): Reply {
  return ({ seen }) => (seen(method, path) > 0 ? after : before);
}

export interface VenueCase {
  venue: TestVenue;
  replayer: () => HttpReplayer;
  orderEndpoint: Record<LegKind, [method: string, path: string]>;
  /** The venue's request field that carries our client order id. */
  clientIdParam: string;
  /** The account-history request funding payments are read from, and the filters it must carry. */
  fundingEndpoint: [method: string, path: string, params: Record<string, string>];
  /** The public request settled funding rates are read from, and the filters it must carry. */
  fundingRateEndpoint: [method: string, path: string, params: Record<string, string>];
  /** Requests of the one-time perp setup. */
  perpSetupEndpoints: [method: string, path: string][];
  arrange: {
    spotFilled(r: HttpReplayer): void;
    /** The spot order reaches the venue and fills; its answer is lost. */
    spotLostButFilled(r: HttpReplayer): void;
    /** Only the venue's trade list still knows the spot order (null where trades lack client ids). */
    spotInTradesOnly: ((r: HttpReplayer) => void) | null;
    perpFilled(r: HttpReplayer): void;
    perpPartial(r: HttpReplayer): void;
    /** The perp buy that closes the short (reduce-only) fills. */
    perpClosed(r: HttpReplayer): void;
    /** An order (`invalid.order`) the venue refuses as invalid. */
    invalid: { order: OrderRequest; arrange(r: HttpReplayer): void };
    insufficient: { order: OrderRequest; arrange(r: HttpReplayer): void };
    tickersRateLimited(r: HttpReplayer): void;
    orderRateLimited(r: HttpReplayer): void;
    hedgeMode(r: HttpReplayer): void;
  };
  expected: {
    instruments: Record<string, { qtyStep: string; priceTick: string; minQty: string; maxQty: string; minNotionalUsd: string }>;
    tickers: Record<string, { bid: string; ask: string; last: string }>;
    funding: Record<string, { rate: string; intervalHours: number; nextFundingTimeMs: number }>;
    perpFeeUsd: string;
    partialFeeUsd: string;
    balances: { spot: Record<string, string>; perp: Record<string, string> };
    /** The venue's liquidation price of the BTC short in the positions fixture. */
    liquidationPrice: string;
    /** `id atMs amount` of each payment in the funding fixture, oldest first. */
    fundingPayments: string[];
  };
}

export const VENUE_CASES: VenueCase[] = [
  {
    venue: 'binance',
    replayer: binanceVenue,
    orderEndpoint: { spot: ['POST', '/api/v3/order'], perp: ['POST', '/fapi/v1/order'] },
    clientIdParam: 'newClientOrderId',
    fundingEndpoint: ['GET', '/fapi/v1/income', { symbol: 'BTCUSDT', incomeType: 'FUNDING_FEE' }],
    fundingRateEndpoint: ['GET', '/fapi/v1/fundingRate', { symbol: 'BTCUSDT', startTime: String(FUNDING.openedAtMs) }],
    perpSetupEndpoints: [
      ['GET', '/fapi/v1/positionSide/dual'],
      ['POST', '/fapi/v1/marginType'],
      ['POST', '/fapi/v1/leverage'],
    ],
    arrange: {
      spotFilled: (r) =>
        r
          .on('POST', '/api/v3/order', 'spot-order-filled')
          .on('GET', '/api/v3/order', afterSeen('POST', '/api/v3/order', 'spot-order-query-filled', 'order-not-found'))
          .on('GET', '/api/v3/myTrades', afterSeen('POST', '/api/v3/order', 'spot-my-trades', 'my-trades-empty')),
      spotLostButFilled: (r) =>
        r
          .on('POST', '/api/v3/order', { timeout: true })
          .on('GET', '/api/v3/order', afterSeen('POST', '/api/v3/order', 'spot-order-query-filled', 'order-not-found'))
          .on('GET', '/api/v3/myTrades', afterSeen('POST', '/api/v3/order', 'spot-my-trades', 'my-trades-empty')),
      spotInTradesOnly: null,
      perpFilled: (r) => r.on('POST', '/fapi/v1/order', 'fapi-order-filled').on('GET', '/fapi/v1/userTrades', 'fapi-user-trades'),
      perpPartial: (r) => r.on('POST', '/fapi/v1/order', 'fapi-order-partial').on('GET', '/fapi/v1/userTrades', 'fapi-user-trades-partial'),
      perpClosed: (r) => r.on('POST', '/fapi/v1/order', 'fapi-order-close-filled').on('GET', '/fapi/v1/userTrades', 'fapi-user-trades-close'),
      invalid: { order: ORDERS.perpSell, arrange: (r) => r.on('POST', '/fapi/v1/order', 'fapi-order-min-notional') },
      insufficient: { order: ORDERS.spotBuy, arrange: (r) => r.on('POST', '/api/v3/order', 'spot-order-insufficient') },
      tickersRateLimited: (r) => r.on('GET', '/api/v3/ticker/24hr', 'rate-limited'),
      orderRateLimited: (r) => r.on('POST', '/api/v3/order', 'rate-limited'),
      hedgeMode: (r) => r.on('GET', '/fapi/v1/positionSide/dual', 'fapi-position-mode-hedge'),
    },
    expected: {
      instruments: {
        'BTC/USDT': { qtyStep: '0.00001', priceTick: '0.01', minQty: '0.00001', maxQty: '115.47630581', minNotionalUsd: '5' },
        'BTC/USDT:USDT': { qtyStep: '0.001', priceTick: '0.1', minQty: '0.001', maxQty: '120', minNotionalUsd: '100' },
        'SOL/USDT:USDT': { qtyStep: '1', priceTick: '0.01', minQty: '1', maxQty: '100000', minNotionalUsd: '5' },
      },
      tickers: {
        'BTC/USDT': { bid: '95008.99', ask: '95009', last: '95009' },
        'BTC/USDT:USDT': { bid: '95020', ask: '95020.1', last: '95020.1' },
      },
      funding: {
        BTC: { rate: '0.0001', intervalHours: 8, nextFundingTimeMs: 1767254400000 },
        ETH: { rate: '0.00007425', intervalHours: 8, nextFundingTimeMs: 1767254400000 },
        SOL: { rate: '-0.00003102', intervalHours: 4, nextFundingTimeMs: 1767240000000 },
      },
      perpFeeUsd: '0.4750005',
      partialFeeUsd: '0.28497',
      balances: { spot: { BTC: '0.00999', USDT: '9049.894' }, perp: { 'BTC-PERP': '-0.01', USDT: '10949.5259995' } },
      liquidationPrice: '189243.22709163',
      fundingPayments: ['9689322392 1767254400000 0.09501234', '9689500113 1767283200000 -0.01900231', '9689688457 1767312000000 0.07424031'],
    },
  },
  {
    venue: 'bybit',
    replayer: bybitVenue,
    orderEndpoint: { spot: ['POST', '/v5/order/create'], perp: ['POST', '/v5/order/create'] },
    clientIdParam: 'orderLinkId',
    fundingEndpoint: ['GET', '/v5/execution/list', { category: 'linear', symbol: 'BTCUSDT', execType: 'Funding' }],
    fundingRateEndpoint: ['GET', '/v5/market/funding/history', { category: 'linear', symbol: 'BTCUSDT', endTime: String(FUNDING.recordedAtMs) }],
    perpSetupEndpoints: [
      ['GET', '/v5/position/list'],
      ['POST', '/v5/position/set-leverage'],
    ],
    arrange: {
      spotFilled: (r) =>
        r
          .on('POST', '/v5/order/create', 'order-created-spot')
          .on('GET', '/v5/order/realtime', afterSeen('POST', '/v5/order/create', 'realtime-spot-filled', 'orders-empty')),
      spotLostButFilled: (r) =>
        r
          .on('POST', '/v5/order/create', { timeout: true })
          .on('GET', '/v5/order/realtime', afterSeen('POST', '/v5/order/create', 'realtime-spot-filled', 'orders-empty')),
      spotInTradesOnly: (r) => r.on('GET', '/v5/execution/list', 'executions-spot'),
      perpFilled: (r) =>
        r
          .on('POST', '/v5/order/create', 'order-created-linear')
          .on('GET', '/v5/order/realtime', afterSeen('POST', '/v5/order/create', 'realtime-linear-filled', 'orders-empty')),
      perpPartial: (r) =>
        r
          .on('POST', '/v5/order/create', 'order-created-linear-partial')
          .on('GET', '/v5/order/realtime', afterSeen('POST', '/v5/order/create', 'realtime-linear-partial', 'orders-empty')),
      perpClosed: (r) =>
        r
          .on('POST', '/v5/order/create', 'order-created-linear-close')
          .on('GET', '/v5/order/realtime', afterSeen('POST', '/v5/order/create', 'realtime-linear-close-filled', 'orders-empty')),
      invalid: { order: ORDERS.refused, arrange: (r) => r.on('POST', '/v5/order/create', 'order-too-small') },
      insufficient: { order: ORDERS.perpSell, arrange: (r) => r.on('POST', '/v5/order/create', 'order-insufficient') },
      tickersRateLimited: (r) => r.on('GET', '/v5/market/tickers', 'rate-limited'),
      orderRateLimited: (r) => r.on('POST', '/v5/order/create', 'rate-limited'),
      hedgeMode: (r) => r.onParams('GET', '/v5/position/list', { symbol: 'BTCUSDT' }, 'position-hedge'),
    },
    expected: {
      instruments: {
        'BTC/USDT': { qtyStep: '0.000001', priceTick: '0.1', minQty: '0.000011', maxQty: '41.5', minNotionalUsd: '5' },
        'BTC/USDT:USDT': { qtyStep: '0.001', priceTick: '0.1', minQty: '0.001', maxQty: '119', minNotionalUsd: '5' },
        'SOL/USDT:USDT': { qtyStep: '0.1', priceTick: '0.01', minQty: '0.1', maxQty: '7977', minNotionalUsd: '5' },
      },
      tickers: {
        'BTC/USDT': { bid: '95008.9', ask: '95009', last: '95009' },
        'BTC/USDT:USDT': { bid: '95021.2', ask: '95021.3', last: '95021.3' },
      },
      funding: {
        BTC: { rate: '0.0001', intervalHours: 8, nextFundingTimeMs: 1767254400000 },
        ETH: { rate: '0.00006215', intervalHours: 8, nextFundingTimeMs: 1767254400000 },
        SOL: { rate: '-0.00002841', intervalHours: 4, nextFundingTimeMs: 1767240000000 },
      },
      perpFeeUsd: '0.52250055',
      partialFeeUsd: '0.313467',
      balances: { spot: { BTC: '0.00999', USDT: '19049.37149945' }, perp: { 'BTC-PERP': '-0.01', USDT: '19999.37249945' } },
      liquidationPrice: '188012.4',
      // bybit's execFee is a fee: −0.09501234 charged is 0.09501234 received.
      fundingPayments: [
        '8f1e2d3c-4b5a-4c69-8d7e-1f2a3b4c5d6e 1767254400000 0.09501234',
        '0d7e43a9-1b6c-4f0e-8a11-6f3b9d2e5c48 1767283200000 -0.01900231',
        '5c0b3c1e-7f35-4e8a-9d52-2a61c1f0d3a7 1767312000000 0.07424031',
      ],
    },
  },
  {
    venue: 'okx',
    replayer: okxVenue,
    orderEndpoint: { spot: ['POST', '/api/v5/trade/batch-orders'], perp: ['POST', '/api/v5/trade/batch-orders'] },
    clientIdParam: 'clOrdId',
    fundingEndpoint: ['GET', '/api/v5/account/bills-archive', { instType: 'SWAP', instId: 'BTC-USDT-SWAP', type: '8', ccy: 'USDT' }],
    fundingRateEndpoint: ['GET', '/api/v5/public/funding-rate-history', { instId: 'BTC-USDT-SWAP' }],
    perpSetupEndpoints: [
      ['GET', '/api/v5/account/config'],
      ['POST', '/api/v5/account/set-leverage'],
    ],
    arrange: {
      spotFilled: (r) =>
        r
          .on('POST', '/api/v5/trade/batch-orders', 'order-placed-spot')
          .on('GET', '/api/v5/trade/order', afterSeen('POST', '/api/v5/trade/batch-orders', 'order-spot-filled', 'order-not-found')),
      spotLostButFilled: (r) =>
        r
          .on('POST', '/api/v5/trade/batch-orders', { timeout: true })
          .on('GET', '/api/v5/trade/order', afterSeen('POST', '/api/v5/trade/batch-orders', 'order-spot-filled', 'order-not-found')),
      spotInTradesOnly: (r) => r.on('GET', '/api/v5/trade/fills-history', 'fills-spot'),
      perpFilled: (r) =>
        r
          .on('POST', '/api/v5/trade/batch-orders', 'order-placed-swap')
          .on('GET', '/api/v5/trade/order', afterSeen('POST', '/api/v5/trade/batch-orders', 'order-swap-filled', 'order-not-found')),
      perpPartial: (r) =>
        r
          .on('POST', '/api/v5/trade/batch-orders', 'order-placed-swap-partial')
          .on('GET', '/api/v5/trade/order', afterSeen('POST', '/api/v5/trade/batch-orders', 'order-swap-partial', 'order-not-found')),
      perpClosed: (r) =>
        r
          .on('POST', '/api/v5/trade/batch-orders', 'order-placed-swap-close')
          .on('GET', '/api/v5/trade/order', afterSeen('POST', '/api/v5/trade/batch-orders', 'order-swap-close-filled', 'order-not-found')),
      invalid: { order: ORDERS.refused, arrange: (r) => r.on('POST', '/api/v5/trade/batch-orders', 'order-rejected-min-size') },
      insufficient: { order: ORDERS.spotBuy, arrange: (r) => r.on('POST', '/api/v5/trade/batch-orders', 'order-rejected-insufficient') },
      tickersRateLimited: (r) => r.on('GET', '/api/v5/market/tickers', 'rate-limited'),
      orderRateLimited: (r) => r.on('POST', '/api/v5/trade/batch-orders', 'rate-limited'),
      hedgeMode: (r) => r.on('GET', '/api/v5/account/config', 'account-config-long-short'),
    },
    expected: {
      instruments: {
        'BTC/USDT': { qtyStep: '0.00000001', priceTick: '0.1', minQty: '0.00001', maxQty: '9999999999', minNotionalUsd: '0' },
        // Contracts of 0.01 BTC, traded in steps of 0.01 contract.
        'BTC/USDT:USDT': { qtyStep: '0.0001', priceTick: '0.1', minQty: '0.0001', maxQty: '120', minNotionalUsd: '0' },
        'ETH/USDT:USDT': { qtyStep: '0.001', priceTick: '0.01', minQty: '0.001', maxQty: '2000', minNotionalUsd: '0' },
      },
      tickers: {
        'BTC/USDT': { bid: '95011.2', ask: '95011.3', last: '95011.2' },
        'BTC/USDT:USDT': { bid: '95022.3', ask: '95022.4', last: '95022.4' },
      },
      funding: {
        BTC: { rate: '0.0000812', intervalHours: 8, nextFundingTimeMs: 1767254400000 },
        ETH: { rate: '0.0000533', intervalHours: 8, nextFundingTimeMs: 1767254400000 },
        SOL: { rate: '-0.0000274', intervalHours: 4, nextFundingTimeMs: 1767240000000 },
      },
      perpFeeUsd: '0.4750005',
      partialFeeUsd: '0.28497',
      balances: { spot: { BTC: '0.00999', USDT: '18099.4179995' }, perp: { 'BTC-PERP': '-0.01', USDT: '19999.4199995' } },
      liquidationPrice: '189012.2',
      // OKX books 15 s or so after the funding time; the last bill (isolated margin) moved only the position's margin.
      fundingPayments: ['2512158415588360192 1767254415588 0.09501234', '2512278214031245312 1767283214031 -0.01900231', '2512398016220413952 1767312016220 0.07424031'],
    },
  },
];
