import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { BotError, ConfigError, InvalidInputError, NotFoundError, OrderRejectedError, OrderTimeoutError } from '../../../src/engine/domain/errors.js';
import type { FundingPayment, OrderResult, SettledFundingRate } from '../../../src/engine/domain/types.js';
import { LiveExecutor } from '../../../src/engine/execution/liveExecutor.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { FUNDING, ORDERS, afterSeen, TEST_KEYS, VENUE_CASES, binanceVenue, exchangeOver, type VenueCase } from './ccxtVenueFixtures.js';
import { loadFixture, type Answer, type HttpReplayer } from './ccxtReplayer.js';

const SECRETS = Object.values(TEST_KEYS).flatMap((k) => Object.values(k));

/** The rejection, with the checks every venue error must pass: a BotError free of secrets and URLs. */
async function failure(promise: Promise<unknown>): Promise<BotError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BotError);
  const message = (err as BotError).message;
  for (const secret of SECRETS) expect(message).not.toContain(secret);
  expect(message).not.toMatch(/signature=|https?:\/\/\S+\?[^[]/);
  return err as BotError;
}

function expectFill(fill: OrderResult | null, expected: Record<string, string>): void {
  expect(fill).not.toBeNull();
  for (const [key, value] of Object.entries(expected)) {
    const actual = fill![key as keyof OrderResult];
    if (actual instanceof Decimal) expect(actual.toString(), key).toBe(new Decimal(value).toString());
    else expect(actual, key).toBe(value);
  }
}

async function setup(venue: VenueCase, arrange?: (r: HttpReplayer) => void) {
  const replayer = venue.replayer();
  arrange?.(replayer);
  const exchange = await exchangeOver(venue.venue, replayer);
  return { replayer, exchange };
}

/** The exchange at the time the funding fixtures were recorded. */
async function fundingSetup(venue: VenueCase, arrange?: (r: HttpReplayer) => void) {
  const replayer = venue.replayer();
  arrange?.(replayer);
  const exchange = await exchangeOver(venue.venue, replayer, { clock: new ManualClock(FUNDING.recordedAtMs) });
  return { replayer, exchange };
}

const paymentLines = (payments: FundingPayment[]): string[] => payments.map((p) => `${p.id} ${p.atMs} ${p.amountUsd.toString()}`);

describe.each(VENUE_CASES)('CcxtExchange on $venue (recorded answers)', (venue) => {
  const [spotMethod, spotPath] = venue.orderEndpoint.spot;
  const [perpMethod, perpPath] = venue.orderEndpoint.perp;

  it('loads both legs of each coin from the markets once, with exact trading rules', async () => {
    const { exchange, replayer } = await setup(venue);
    const instruments = await exchange.loadInstruments();
    expect(new Set(instruments.map((i) => i.coin))).toEqual(new Set(['BTC', 'ETH', 'SOL']));
    expect(instruments).toHaveLength(6);
    for (const [symbol, rules] of Object.entries(venue.expected.instruments)) {
      const instrument = instruments.find((i) => i.symbol === symbol);
      expect(instrument, symbol).toBeDefined();
      for (const [key, value] of Object.entries(rules)) {
        expect((instrument![key as keyof typeof rules] as Decimal).toString(), `${symbol} ${key}`).toBe(value);
      }
      expect(instrument!.takerFeeRate.gt(0)).toBe(true);
    }
    const loads = replayer.requests.length;
    await exchange.loadInstruments();
    await exchange.fetchTickers(['BTC/USDT']);
    expect(replayer.requests.length - loads).toBeGreaterThan(0);
    expect(replayer.requests.filter((r) => /instruments|exchangeInfo/.test(r.path)).length).toBe(loads);
  });

  it('quotes bid, ask and last of both legs from the venue strings', async () => {
    const { exchange } = await setup(venue);
    const tickers = await exchange.fetchTickers(['BTC/USDT', 'BTC/USDT:USDT']);
    for (const ticker of tickers) {
      const expected = venue.expected.tickers[ticker.symbol]!;
      expect({ bid: ticker.bid.toString(), ask: ticker.ask.toString(), last: ticker.last.toString() }).toEqual(expected);
    }
  });

  it('reports funding of every USDT linear perp with its interval in hours', async () => {
    const { exchange } = await setup(venue);
    const rates = await exchange.fetchFundingRates();
    expect(rates.map((r) => r.symbol).sort()).toEqual(['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT']);
    for (const rate of rates) {
      const expected = venue.expected.funding[rate.coin]!;
      expect({ rate: rate.rate.toString(), intervalHours: rate.intervalHours, nextFundingTimeMs: rate.nextFundingTimeMs }).toEqual(expected);
    }
  });

  it('fills a spot market order under our client order id, coin fee taken from the coins bought', async () => {
    const { exchange, replayer } = await setup(venue, venue.arrange.spotFilled);
    const fill = await exchange.placeOrder(ORDERS.spotBuy);
    // 0.01 BTC bought, 0.00001 BTC kept by the venue as its fee: 0.00999 delivered.
    expectFill(fill, { status: 'filled', requestedQty: '0.01', filledQty: '0.00999', avgPrice: '95010.6', feeUsd: '0.950106', clientOrderId: ORDERS.spotBuy.clientOrderId });
    expect(fill.simulated).toBe(false);
    const [post] = replayer.find(spotMethod, spotPath);
    expect(post?.params[venue.clientIdParam]).toBe(ORDERS.spotBuy.clientOrderId);
  });

  it('sets the perp up once (one-way mode, margin mode, leverage), then fills the short', async () => {
    const { exchange, replayer } = await setup(venue, venue.arrange.perpFilled);
    const fill = await exchange.placeOrder(ORDERS.perpSell);
    expectFill(fill, { status: 'filled', kind: 'perp', filledQty: '0.01', avgPrice: '95000.1', feeUsd: venue.expected.perpFeeUsd });
    await exchange.placeOrder(ORDERS.perpSell);
    expect(replayer.count(perpMethod, perpPath)).toBe(2);
    for (const [method, path] of venue.perpSetupEndpoints) expect(replayer.count(method, path), `${method} ${path}`).toBe(1);
  });

  it('marks a perp buy that closes the short reduce-only', async () => {
    const { exchange, replayer } = await setup(venue, venue.arrange.perpClosed);
    const fill = await exchange.placeOrder(ORDERS.perpBuyClose);
    expectFill(fill, { status: 'filled', side: 'buy', filledQty: '0.01', avgPrice: '95030' });
    const [post] = replayer.find(perpMethod, perpPath);
    expect(post?.params['reduceOnly']).toBe('true');
    expect(post?.params[venue.clientIdParam]).toBe(ORDERS.perpBuyClose.clientOrderId);
  });

  it('refuses a perp order when the account is in hedge mode, before sending it', async () => {
    const { exchange, replayer } = await setup(venue, (r) => {
      venue.arrange.hedgeMode(r);
      venue.arrange.perpFilled(r);
    });
    const err = await failure(exchange.placeOrder(ORDERS.perpSell));
    expect(err).toMatchObject({ code: 'PERP_SETUP_REFUSED', reaction: 'alert' });
    expect(err.message).toMatch(/hedge|long\/short/);
    expect(replayer.count(perpMethod, perpPath)).toBe(0);
  });

  it('reports a partial fill with the filled quantity', async () => {
    const { exchange } = await setup(venue, venue.arrange.perpPartial);
    const fill = await exchange.placeOrder(ORDERS.perpSellPartial);
    expectFill(fill, { status: 'partial', requestedQty: '0.01', filledQty: '0.006', avgPrice: '94990', feeUsd: venue.expected.partialFeeUsd });
  });

  it('passes an order the venue refuses as invalid on as OrderRejectedError', async () => {
    const { exchange } = await setup(venue, venue.arrange.invalid.arrange);
    const err = await failure(exchange.placeOrder(venue.arrange.invalid.order));
    expect(err).toBeInstanceOf(OrderRejectedError);
    expect(err).toMatchObject({ code: 'ORDER_REJECTED', reaction: 'refuse' });
  });

  it('refuses an order the account cannot pay for, naming the reason', async () => {
    const { exchange } = await setup(venue, venue.arrange.insufficient.arrange);
    const err = await failure(exchange.placeOrder(venue.arrange.insufficient.order));
    expect(err).toBeInstanceOf(OrderRejectedError);
    expect(err).toMatchObject({ code: 'INSUFFICIENT_FUNDS', reaction: 'refuse' });
  });

  it('tells the caller to retry when rate limited, for prices and for orders', async () => {
    const { exchange } = await setup(venue, (r) => {
      venue.arrange.tickersRateLimited(r);
      venue.arrange.orderRateLimited(r);
    });
    const prices = await failure(exchange.fetchTickers(['BTC/USDT']));
    expect(prices).toMatchObject({ code: 'VENUE_RATE_LIMITED', reaction: 'retry' });
    // A throttled order was refused before it was processed: a refusal to retry later, not a lookup.
    const order = await failure(exchange.placeOrder(ORDERS.spotBuy));
    expect(order).toBeInstanceOf(OrderRejectedError);
    expect(order).toMatchObject({ code: 'VENUE_RATE_LIMITED', reaction: 'retry' });
  });

  it('reports free spot balances and the short as a negative <COIN>-PERP with USDT booked like the ledger', async () => {
    const { exchange } = await setup(venue);
    const { spot, perp, sharedQuote, liquidationPrices } = await exchange.fetchBalances();
    const asStrings = (m: Map<string, Decimal>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString()]));
    expect(asStrings(spot)).toEqual(venue.expected.balances.spot);
    expect(asStrings(perp)).toEqual(venue.expected.balances.perp);
    // The venue's own liquidation price of the short, digit for digit.
    expect(asStrings(liquidationPrices)).toEqual({ 'BTC-PERP': venue.expected.liquidationPrice });
    // bybit's unified trading account and OKX's trading account hold one USDT wallet for both legs.
    expect(sharedQuote).toBe(venue.venue !== 'binance');
  });

  it('finds an order by client id in the trades when the order lists no longer have it', async () => {
    const { exchange, replayer } = await setup(venue, venue.arrange.spotInTradesOnly ?? undefined);
    const found = await exchange.fetchOrderByClientId('BTC/USDT', ORDERS.spotBuy.clientOrderId);
    if (!venue.arrange.spotInTradesOnly) {
      // binance trades carry no client id: the order endpoint is the only source.
      expect(found).toBeNull();
      expect(replayer.requests.some((r) => /myTrades|userTrades/.test(r.path))).toBe(false);
      return;
    }
    expectFill(found, { status: 'filled', filledQty: '0.00999', avgPrice: '95010.6', feeUsd: '0.950106', orderId: found!.orderId });
  });

  describe('funding payments', () => {
    const [fundingMethod, fundingPath, fundingParams] = venue.fundingEndpoint;

    it('reads what the venue paid on the perp from its account history, exact from the raw strings', async () => {
      const { exchange, replayer } = await fundingSetup(venue);
      const payments = await exchange.fetchFundingPayments(FUNDING.symbol, FUNDING.openedAtMs);
      expect(paymentLines(payments)).toEqual(venue.expected.fundingPayments);
      expect(payments.every((p) => p.symbol === FUNDING.symbol && p.coin === 'BTC')).toBe(true);
      expect(payments.reduce((sum, p) => sum.plus(p.amountUsd), new Decimal(0)).toString()).toBe(FUNDING.totalUsd);
      expect(replayer.count(fundingMethod, fundingPath, fundingParams)).toBe(1);
    });

    it('leaves out payments from before the given time', async () => {
      const { exchange } = await fundingSetup(venue);
      const second = venue.expected.fundingPayments[1]!.split(' ')[1]!;
      const payments = await exchange.fetchFundingPayments(FUNDING.symbol, Number(second));
      expect(paymentLines(payments)).toEqual(venue.expected.fundingPayments.slice(1));
    });

    it('refuses a spot market and a market it does not list, asking the venue nothing', async () => {
      const { exchange, replayer } = await fundingSetup(venue);
      await expect(exchange.fetchFundingPayments('BTC/USDT', 0)).rejects.toThrow(InvalidInputError);
      await expect(exchange.fetchFundingPayments('NOPE/USDT:USDT', 0)).rejects.toThrow(NotFoundError);
      expect(replayer.count(fundingMethod, fundingPath)).toBe(0);
    });

    it('tells the caller to retry when the history read is rate limited', async () => {
      const { exchange } = await fundingSetup(venue, (r) => r.on(fundingMethod, fundingPath, 'rate-limited'));
      const err = await failure(exchange.fetchFundingPayments(FUNDING.symbol, FUNDING.openedAtMs));
      expect(err).toMatchObject({ code: 'VENUE_RATE_LIMITED', reaction: 'retry' });
    });

    it('answers VENUE_UNSUPPORTED, asking nothing, where ccxt has no funding history for the venue', async () => {
      const { exchange, replayer } = await fundingSetup(venue);
      await exchange.loadInstruments();
      // As ccxt describes a venue without the endpoint.
      (exchange as unknown as { perp: { client: { has: Record<string, unknown> } } }).perp.client.has['fetchFundingHistory'] = false;
      const err = await failure(exchange.fetchFundingPayments(FUNDING.symbol, FUNDING.openedAtMs));
      expect(err).toMatchObject({ code: 'VENUE_UNSUPPORTED', reaction: 'refuse' });
      expect(replayer.count(fundingMethod, fundingPath)).toBe(0);
    });
  });

  describe('settled funding rates', () => {
    const [rateMethod, ratePath, rateParams] = venue.fundingRateEndpoint;
    const settledLines = (rates: SettledFundingRate[]): string[] => rates.map((r) => `${r.atMs} ${r.rate.toString()}`);

    it('reads the rate settled at each funding time from the public history, exact from the raw strings, in one request', async () => {
      const { exchange, replayer } = await fundingSetup(venue);
      const settled = await exchange.fetchFundingRateHistory(FUNDING.symbol, FUNDING.openedAtMs);
      expect(settledLines(settled)).toEqual(FUNDING.settledRates);
      expect(replayer.count(rateMethod, ratePath, rateParams)).toBe(1);
      expect(replayer.count(rateMethod, ratePath)).toBe(1);
    });

    it('leaves out funding times before the given time', async () => {
      const { exchange } = await fundingSetup(venue);
      const settled = await exchange.fetchFundingRateHistory(FUNDING.symbol, Date.UTC(2026, 0, 1, 8, 0, 1));
      expect(settledLines(settled)).toEqual(FUNDING.settledRates.slice(1));
    });

    it('refuses a spot market and a market it does not list, asking the venue nothing', async () => {
      const { exchange, replayer } = await fundingSetup(venue);
      await expect(exchange.fetchFundingRateHistory('BTC/USDT', 0)).rejects.toThrow(InvalidInputError);
      await expect(exchange.fetchFundingRateHistory('NOPE/USDT:USDT', 0)).rejects.toThrow(NotFoundError);
      expect(replayer.count(rateMethod, ratePath)).toBe(0);
    });

    it('tells the caller to retry when the rate history read is rate limited', async () => {
      const { exchange } = await fundingSetup(venue, (r) => r.on(rateMethod, ratePath, 'rate-limited'));
      const err = await failure(exchange.fetchFundingRateHistory(FUNDING.symbol, FUNDING.openedAtMs));
      expect(err).toMatchObject({ code: 'VENUE_RATE_LIMITED', reaction: 'retry' });
    });

    it('answers VENUE_UNSUPPORTED, asking nothing, where ccxt has no funding rate history for the venue', async () => {
      const { exchange, replayer } = await fundingSetup(venue);
      await exchange.loadInstruments();
      (exchange as unknown as { perp: { client: { has: Record<string, unknown> } } }).perp.client.has['fetchFundingRateHistory'] = false;
      const err = await failure(exchange.fetchFundingRateHistory(FUNDING.symbol, FUNDING.openedAtMs));
      expect(err).toMatchObject({ code: 'VENUE_UNSUPPORTED', reaction: 'refuse' });
      expect(replayer.count(rateMethod, ratePath)).toBe(0);
    });
  });

  describe('through the LiveExecutor', () => {
    it('looks up an order whose answer was lost and finds it filled: one order sent, recorded once', async () => {
      const { exchange, replayer } = await setup(venue, venue.arrange.spotLostButFilled);
      const store = new MemoryStore();
      const executor = new LiveExecutor(exchange, store);
      const fill = await executor.execute(ORDERS.spotBuy);
      expectFill(fill, { status: 'filled', filledQty: '0.00999', avgPrice: '95010.6', feeUsd: '0.950106' });
      expect(replayer.count(spotMethod, spotPath)).toBe(1);
      expect(await store.getFill(ORDERS.spotBuy.clientOrderId)).toEqual(fill);
      expect(await executor.execute(ORDERS.spotBuy)).toEqual(fill);
      expect(replayer.count(spotMethod, spotPath)).toBe(1);
    });

    it('reports a timeout, without sending again, when the venue has no trace of the order', async () => {
      const { exchange, replayer } = await setup(venue, (r) => r.on(spotMethod, spotPath, { timeout: true }));
      const store = new MemoryStore();
      const err = await failure(new LiveExecutor(exchange, store).execute(ORDERS.spotBuy));
      expect(err).toBeInstanceOf(OrderTimeoutError);
      expect(replayer.count(spotMethod, spotPath)).toBe(1);
      expect(await store.getFill(ORDERS.spotBuy.clientOrderId)).toBeNull();
    });

    it('does not look a refused order up and records nothing', async () => {
      const { exchange, replayer } = await setup(venue, venue.arrange.invalid.arrange);
      const store = new MemoryStore();
      await expect(new LiveExecutor(exchange, store).execute(venue.arrange.invalid.order)).rejects.toThrow(OrderRejectedError);
      const posted = replayer.requests.findIndex((r) => r.method === perpMethod && r.path === perpPath);
      expect(replayer.requests.slice(posted + 1)).toHaveLength(0);
      expect(await store.listLedger()).toHaveLength(0);
    });
  });
});

describe('CcxtExchange funding payments over many pages', () => {
  const HOUR_MS = 3_600_000;

  it('binance: asks for the rows after the last one while a page comes back full', async () => {
    const fullPage = {
      status: 200,
      body: Array.from({ length: 1000 }, (_, i) => ({ symbol: 'BTCUSDT', incomeType: 'FUNDING_FEE', income: '0.001', asset: 'USDT', info: 'FUNDING_FEE', time: FUNDING.openedAtMs - 1 + (i + 1) * HOUR_MS, tranId: 5_000_000 + i, tradeId: '' })),
    } satisfies Answer;
    const later = { status: 200, body: fullPage.body.slice(0, 3).map((row, i) => ({ ...row, time: row.time + 1000 * HOUR_MS, tranId: 6_000_000 + i })) } satisfies Answer;
    const replayer = binanceVenue().on('GET', '/fapi/v1/income', fullPage, later);
    const exchange = await exchangeOver('binance', replayer, { clock: new ManualClock(FUNDING.recordedAtMs + 1000 * HOUR_MS) });
    const payments = await exchange.fetchFundingPayments(FUNDING.symbol, FUNDING.openedAtMs);
    const [first, second] = replayer.find('GET', '/fapi/v1/income');
    expect(first?.params).toMatchObject({ startTime: String(FUNDING.openedAtMs), limit: '1000' });
    expect(second?.params['startTime']).toBe(String(FUNDING.openedAtMs - 1 + 1000 * HOUR_MS + 1));
    expect(replayer.count('GET', '/fapi/v1/income')).toBe(2);
    expect(payments).toHaveLength(1003);
  });

  it("bybit: reads 7 days a request, following each window's cursor", async () => {
    const since = FUNDING.recordedAtMs - 10 * 24 * HOUR_MS;
    const replayer = VENUE_CASES[1]!.replayer().onParams('GET', '/v5/execution/list', { execType: 'Funding' }, ({ request }) => {
      if (request.params['cursor'] === 'page2') return 'executions-funding';
      const answer = structuredClone(loadFixture('bybit', 'executions-empty')) as { status: number; body: { result: { nextPageCursor: string; list: unknown[] } } };
      answer.body.result.nextPageCursor = request.params['startTime'] === String(since) ? 'page2' : '';
      answer.body.result.list = request.params['startTime'] === String(since) ? [{ ...fixtureRow('bybit', 'executions-funding'), execId: 'first-window', execTime: String(since + HOUR_MS) }] : [];
      return answer;
    });
    const exchange = await exchangeOver('bybit', replayer, { clock: new ManualClock(FUNDING.recordedAtMs) });
    const payments = await exchange.fetchFundingPayments(FUNDING.symbol, since);
    const windows = replayer.find('GET', '/v5/execution/list').map((r) => [r.params['startTime'], r.params['endTime'], r.params['cursor'] ?? '-', r.params['limit']]);
    const weekMs = 7 * 24 * HOUR_MS;
    expect(windows).toEqual([
      [String(since), String(since + weekMs), '-', '100'],
      [String(since), String(since + weekMs), 'page2', '100'],
      [String(since + weekMs + 1), String(FUNDING.recordedAtMs), '-', '100'],
    ]);
    expect(payments.map((p) => p.id)).toEqual(['first-window', '8f1e2d3c-4b5a-4c69-8d7e-1f2a3b4c5d6e', '0d7e43a9-1b6c-4f0e-8a11-6f3b9d2e5c48', '5c0b3c1e-7f35-4e8a-9d52-2a61c1f0d3a7']);
  });

  it('okx: asks for the bills older than the oldest seen while a page comes back full', async () => {
    const row = fixtureRow('okx', 'bills-funding');
    const fullPage = {
      status: 200,
      body: { code: '0', msg: '', data: Array.from({ length: 100 }, (_, i) => ({ ...row, billId: String(3_000_000 - i), ts: String(FUNDING.recordedAtMs + (100 - i) * HOUR_MS) })) },
    } satisfies Answer;
    const replayer = VENUE_CASES[2]!.replayer().on('GET', '/api/v5/account/bills-archive', fullPage, 'bills-funding');
    const exchange = await exchangeOver('okx', replayer, { clock: new ManualClock(FUNDING.recordedAtMs + 101 * HOUR_MS) });
    const payments = await exchange.fetchFundingPayments(FUNDING.symbol, FUNDING.openedAtMs);
    const [first, second] = replayer.find('GET', '/api/v5/account/bills-archive');
    expect(first?.params).toMatchObject({ begin: String(FUNDING.openedAtMs), limit: '100' });
    expect(first?.params['after']).toBeUndefined();
    expect(second?.params['after']).toBe(String(3_000_000 - 99));
    expect(payments).toHaveLength(103);
    expect(payments.slice(0, 3).map((p) => p.amountUsd.toString())).toEqual(['0.09501234', '-0.01900231', '0.07424031']);
  });
});

describe('CcxtExchange settled funding rates over many pages', () => {
  const HOUR_MS = 3_600_000;
  const since = FUNDING.openedAtMs;
  /** Funding times every hour after `since`, oldest first. */
  const hourly = (count: number, firstMs = Date.UTC(2026, 0, 1, 1)): number[] => Array.from({ length: count }, (_, i) => firstMs + i * HOUR_MS);

  it('binance: asks for the rows after the last one while a page comes back full', async () => {
    const times = hourly(1003);
    const page = (slice: number[]): Answer => ({ status: 200, body: slice.map((t) => ({ symbol: 'BTCUSDT', fundingTime: t, fundingRate: '0.00001000', markPrice: '95000.00000000' })) });
    const replayer = binanceVenue().on('GET', '/fapi/v1/fundingRate', page(times.slice(0, 1000)), page(times.slice(1000)));
    const exchange = await exchangeOver('binance', replayer, { clock: new ManualClock(times.at(-1)! + HOUR_MS) });
    const settled = await exchange.fetchFundingRateHistory(FUNDING.symbol, since);
    const [first, second] = replayer.find('GET', '/fapi/v1/fundingRate');
    expect(first?.params).toMatchObject({ symbol: 'BTCUSDT', startTime: String(since), limit: '1000' });
    expect(second?.params['startTime']).toBe(String(times[999]! + 1));
    expect(replayer.count('GET', '/fapi/v1/fundingRate')).toBe(2);
    expect(settled.map((s) => s.atMs)).toEqual(times);
  });

  it('bybit: asks for the rows before the oldest one while a page comes back full, up to the given time', async () => {
    const times = hourly(203);
    const nowMs = times.at(-1)! + HOUR_MS;
    const replayer = VENUE_CASES[1]!.replayer().on('GET', '/v5/market/funding/history', ({ request }) => {
      const endMs = Number(request.params['endTime']);
      const list = times.filter((t) => t <= endMs).reverse().slice(0, 200).map((t) => ({ symbol: 'BTCUSDT', fundingRate: '0.00001', fundingRateTimestamp: String(t) }));
      return { status: 200, body: { retCode: 0, retMsg: 'OK', result: { category: 'linear', list }, retExtInfo: {}, time: nowMs } };
    });
    const exchange = await exchangeOver('bybit', replayer, { clock: new ManualClock(nowMs) });
    const settled = await exchange.fetchFundingRateHistory(FUNDING.symbol, since);
    const requests = replayer.find('GET', '/v5/market/funding/history').map((r) => [r.params['startTime'], r.params['endTime'], r.params['limit']]);
    expect(requests).toEqual([
      [undefined, String(nowMs), '200'],
      [undefined, String(times[3]! - 1), '200'],
    ]);
    expect(settled.map((s) => s.atMs)).toEqual(times);
  });

  it('okx: asks for the rows older than the oldest one while a page comes back full and newer than the given time', async () => {
    const times = hourly(103);
    const replayer = VENUE_CASES[2]!.replayer().on('GET', '/api/v5/public/funding-rate-history', ({ request }) => {
      const after = request.params['after'];
      const data = times
        .filter((t) => after === undefined || t < Number(after))
        .reverse()
        .slice(0, 100)
        .map((t) => ({ formulaType: 'withRate', fundingRate: '0.00001', fundingTime: String(t), instId: 'BTC-USDT-SWAP', instType: 'SWAP', method: 'current_period', realizedRate: '0.00001' }));
      return { status: 200, body: { code: '0', data, msg: '' } };
    });
    const exchange = await exchangeOver('okx', replayer, { clock: new ManualClock(times.at(-1)! + HOUR_MS) });
    const settled = await exchange.fetchFundingRateHistory(FUNDING.symbol, since);
    const requests = replayer.find('GET', '/api/v5/public/funding-rate-history').map((r) => [r.params['before'], r.params['after'], r.params['limit']]);
    expect(requests).toEqual([
      [undefined, undefined, '100'],
      [undefined, String(times[3]!), '100'],
    ]);
    expect(settled.map((s) => s.atMs)).toEqual(times);
  });

  it('okx: stops at the page that reaches the given time', async () => {
    const times = hourly(150);
    const replayer = VENUE_CASES[2]!.replayer().on('GET', '/api/v5/public/funding-rate-history', {
      status: 200,
      body: { code: '0', msg: '', data: times.slice(-100).reverse().map((t) => ({ fundingRate: '0.00001', fundingTime: String(t), instId: 'BTC-USDT-SWAP', instType: 'SWAP', realizedRate: '0.00001' })) },
    });
    const exchange = await exchangeOver('okx', replayer, { clock: new ManualClock(times.at(-1)! + HOUR_MS) });
    const settled = await exchange.fetchFundingRateHistory(FUNDING.symbol, times.at(-10)!);
    expect(replayer.count('GET', '/api/v5/public/funding-rate-history')).toBe(1);
    expect(settled.map((s) => s.atMs)).toEqual(times.slice(-10));
  });
});

/** The first row of a recorded list answer (bybit `result.list`, OKX `data`). */
function fixtureRow(venue: string, name: string): Record<string, unknown> {
  const body = (loadFixture(venue, name) as { body: { result?: { list: Record<string, unknown>[] }; data?: Record<string, unknown>[] } }).body;
  return { ...(body.result?.list ?? body.data ?? [])[0] };
}

describe('CcxtExchange funding intervals', () => {
  it('assumes 8 h, with a warning, for a perp whose interval neither the rate nor the market gives', async () => {
    const instruments = structuredClone(loadFixture('bybit', 'instruments-linear')) as { status: number; body: { result: { list: Record<string, unknown>[] } } };
    const tickers = structuredClone(loadFixture('bybit', 'tickers-linear')) as { status: number; body: { result: { list: Record<string, unknown>[] } } };
    for (const row of [...instruments.body.result.list, ...tickers.body.result.list]) {
      if (row['symbol'] === 'ETHUSDT') {
        delete row['fundingInterval'];
        delete row['fundingIntervalHour'];
      }
    }
    const replayer = VENUE_CASES[1]!.replayer()
      .onParams('GET', '/v5/market/instruments-info', { category: 'linear' }, instruments)
      .onParams('GET', '/v5/market/tickers', { category: 'linear' }, tickers);
    const warnings: string[] = [];
    const exchange = await exchangeOver('bybit', replayer, { logger: { warn: (_details, message) => void warnings.push(message) } });
    const rates = await exchange.fetchFundingRates();
    expect(rates.find((r) => r.coin === 'ETH')!.intervalHours).toBe(8);
    expect(rates.find((r) => r.coin === 'SOL')!.intervalHours).toBe(4);
    expect(warnings).toEqual(['no funding interval reported; assuming 8 h']);
  });
});

describe('CcxtExchange order settling', () => {
  it('re-reads an accepted order until the venue reports it done (not listed yet, then New, then Filled)', async () => {
    const bybit = VENUE_CASES[1]!;
    const replayer = bybit.replayer()
      .on('POST', '/v5/order/create', 'order-created-linear')
      .on('GET', '/v5/order/realtime', 'orders-empty', 'realtime-linear-new', 'realtime-linear-filled');
    const slept: number[] = [];
    const exchange = await exchangeOver('bybit', replayer, {
      clock: { nowMs: () => Date.now(), sleep: async (ms) => void slept.push(ms) },
    });
    const fill = await exchange.placeOrder(ORDERS.perpSell);
    expectFill(fill, { status: 'filled', filledQty: '0.01' });
    expect(slept).toEqual([250, 500]);
    expect(replayer.count('POST', '/v5/order/create')).toBe(1);
  });

  it('refuses an order the venue ended with nothing filled', async () => {
    const bybit = VENUE_CASES[1]!;
    const replayer = bybit.replayer().on('POST', '/v5/order/create', 'order-created-linear').on('GET', '/v5/order/realtime', 'realtime-linear-cancelled');
    const exchange = await exchangeOver('bybit', replayer);
    const err = await failure(exchange.placeOrder(ORDERS.perpSell));
    expect(err).toBeInstanceOf(OrderRejectedError);
    expect(err).toMatchObject({ code: 'ORDER_NOT_FILLED', reaction: 'refuse' });
  });

  it('gives up with OrderTimeoutError, never re-sending, when the order stays unreported', async () => {
    const bybit = VENUE_CASES[1]!;
    const replayer = bybit.replayer().on('POST', '/v5/order/create', 'order-created-linear').on('GET', '/v5/order/realtime', 'realtime-linear-new');
    const exchange = await exchangeOver('bybit', replayer, { clock: { nowMs: () => Date.now(), sleep: async () => undefined } });
    const err = await failure(exchange.placeOrder(ORDERS.perpSell));
    expect(err).toBeInstanceOf(OrderTimeoutError);
    expect(replayer.count('POST', '/v5/order/create')).toBe(1);
  });
});

describe('CcxtExchange: a failure after the venue accepted an order is an unknown outcome, never a refusal', () => {
  it('binance: the perp order is FILLED but reading its trades for the fee is rate limited → OrderTimeoutError (look it up)', async () => {
    const binance = VENUE_CASES[0]!;
    const replayer = binance.replayer().on('POST', '/fapi/v1/order', 'fapi-order-filled').on('GET', '/fapi/v1/userTrades', 'rate-limited');
    const exchange = await exchangeOver('binance', replayer);
    const err = await failure(exchange.placeOrder(ORDERS.perpSell));
    expect(err).toBeInstanceOf(OrderTimeoutError);
    expect(err.message).toMatch(/accepted as order 782219401123 but reading its fill failed/);
    expect(replayer.count('POST', '/fapi/v1/order')).toBe(1);
  });

  it('binance through the LiveExecutor: the lookup that follows is rate limited too → the error stays unknown and nothing is stored', async () => {
    const binance = VENUE_CASES[0]!;
    const replayer = binance
      .replayer()
      .on('POST', '/fapi/v1/order', 'fapi-order-filled')
      .on('GET', '/fapi/v1/userTrades', 'rate-limited')
      .on('GET', '/fapi/v1/order', afterSeen('POST', '/fapi/v1/order', 'rate-limited', 'order-not-found'));
    const exchange = await exchangeOver('binance', replayer);
    const store = new MemoryStore();
    const err = await failure(new LiveExecutor(exchange, store).execute(ORDERS.perpSell));
    expect(err).not.toBeInstanceOf(OrderRejectedError);
    expect(await store.getFill(ORDERS.perpSell.clientOrderId)).toBeNull();
  });

  it('bybit: an order the venue still reports New is answered as working and is never stored as a fill', async () => {
    const bybit = VENUE_CASES[1]!;
    const replayer = bybit
      .replayer()
      .on('POST', '/v5/order/create', 'order-created-linear')
      .on('GET', '/v5/order/realtime', afterSeen('POST', '/v5/order/create', 'realtime-linear-new', 'orders-empty'));
    const exchange = await exchangeOver('bybit', replayer, { clock: { nowMs: () => Date.now(), sleep: async () => undefined } });
    const store = new MemoryStore();
    const executor = new LiveExecutor(exchange, store);
    const answer = await executor.execute(ORDERS.perpSell).catch((err: unknown) => err as Error);
    // Either the working answer or the lost one; never a stored 0 fill.
    if (!(answer instanceof Error)) expect(answer.status).toBe('working');
    expect(await store.getFill(ORDERS.perpSell.clientOrderId)).toBeNull();
    const looked = await executor.lookup(ORDERS.perpSell.symbol, ORDERS.perpSell.clientOrderId);
    expect(looked?.status).toBe('working');
    expect(await store.getFill(ORDERS.perpSell.clientOrderId)).toBeNull();
    expect(replayer.count('POST', '/v5/order/create')).toBe(1);
  });
});

describe('CcxtExchange on bybit, a spot buy sized in USDT (marketUnit quoteCoin)', () => {
  // qty is 1000 USDT to spend; cumExecQty 0.010525 BTC is what it bought.
  const clientOrderId = 'opmjvk2a9cx4t8hq';
  const quoteBuy = (orderStatus?: string): Answer => {
    const answer = structuredClone(loadFixture('bybit', 'realtime-spot-filled-quote')) as Answer & { body: { result: { list: Record<string, unknown>[] } } };
    if (orderStatus) answer.body.result.list[0]!['orderStatus'] = orderStatus;
    return answer;
  };

  it('reads a filled order as filled with its quantity in coins, not short of 1000 coins', async () => {
    const replayer = VENUE_CASES[1]!.replayer().on('GET', '/v5/order/realtime', quoteBuy());
    const exchange = await exchangeOver('bybit', replayer);
    const found = await exchange.fetchOrderByClientId('BTC/USDT', clientOrderId);
    // 0.010525 BTC bought, 0.000010525 BTC kept as the fee: 0.010514475 delivered.
    expectFill(found, { status: 'filled', requestedQty: '0.010525', filledQty: '0.010514475', avgPrice: '95010.6', feeUsd: '0.999986565', clientOrderId });
  });

  it('reads one the venue ended part-filled as partial', async () => {
    const replayer = VENUE_CASES[1]!.replayer().on('GET', '/v5/order/realtime', quoteBuy('PartiallyFilledCanceled'));
    const exchange = await exchangeOver('bybit', replayer);
    expectFill(await exchange.fetchOrderByClientId('BTC/USDT', clientOrderId), { status: 'partial', filledQty: '0.010514475' });
  });
});

describe('createCcxtExchange', () => {
  it('refuses a venue it does not support', async () => {
    await expect(exchangeOver('binance', binanceVenue(), { perpVenue: 'kraken' })).rejects.toThrow(ConfigError);
  });

  it('needs the OKX passphrase', async () => {
    const err = await failure(exchangeOver('okx', binanceVenue(), { credentials: { okx: { apiKey: 'k1234', secret: 's1234' } } }));
    expect(err.message).toContain('OKX_API_PASSWORD');
  });

  it('sends a binance order to the testnet in sandbox mode', async () => {
    const replayer = binanceVenue();
    const exchange = await exchangeOver('binance', replayer, { sandbox: true });
    await exchange.loadInstruments();
    expect(new URL(replayer.requests[0]!.url).host).toBe('testnet.binance.vision');
  });

  it('serves the spot leg from one venue and the perp leg from another', async () => {
    const { binance, bybit } = { binance: VENUE_CASES[0]!, bybit: VENUE_CASES[1]! };
    const spotReplayer = binance.replayer();
    const perpReplayer = bybit.replayer();
    const routed = (url: string, init: Record<string, unknown>) =>
      (url.includes('bybit') ? perpReplayer : spotReplayer).fetch(url, init);
    const exchange = await exchangeOver('binance', spotReplayer, {
      perpVenue: 'bybit',
      credentials: { binance: TEST_KEYS.binance, bybit: TEST_KEYS.bybit },
      fetchImplementation: routed,
    });
    expect(exchange.name).toBe('binance+bybit');
    const instruments = await exchange.loadInstruments();
    expect(instruments.find((i) => i.symbol === 'BTC/USDT')!.qtyStep.toString()).toBe('0.00001');
    expect(instruments.find((i) => i.symbol === 'BTC/USDT:USDT')!.maxQty.toString()).toBe('119');
    // binance loads only its spot markets, bybit only its perps.
    expect(spotReplayer.count('GET', '/fapi/v1/exchangeInfo')).toBe(0);
    expect(perpReplayer.count('GET', '/v5/market/instruments-info', { category: 'spot' })).toBe(0);
    const { spot, perp, sharedQuote } = await exchange.fetchBalances();
    expect(spot.get('USDT')!.toString()).toBe('9049.894');
    expect(perp.get('BTC-PERP')!.toString()).toBe('-0.01');
    // Two venues, two wallets, even though bybit's own account is unified.
    expect(sharedQuote).toBe(false);
  });

  it('reports a venue refusing the perp setup, sends no order, and tries the setup again next time', async () => {
    const binance = VENUE_CASES[0]!;
    const replayer = binance.replayer();
    binance.arrange.perpFilled(replayer);
    replayer.on('POST', '/fapi/v1/marginType', 'fapi-margin-type-position-exists', 'fapi-margin-type-unchanged');
    const exchange = await exchangeOver('binance', replayer);
    const err = await failure(exchange.placeOrder(ORDERS.perpSell));
    expect(err).toMatchObject({ code: 'PERP_SETUP_REFUSED', reaction: 'alert' });
    expect(err.message).toContain('Margin type cannot be changed if there exists position');
    expect(replayer.count('POST', '/fapi/v1/leverage')).toBe(0);
    expect(replayer.count('POST', '/fapi/v1/order')).toBe(0);
    expectFill(await exchange.placeOrder(ORDERS.perpSell), { status: 'filled' });
    expect(replayer.count('POST', '/fapi/v1/marginType')).toBe(2);
  });

  it('refuses a quantity off the venue step instead of letting ccxt round it', async () => {
    const { exchange, replayer } = await setup(VENUE_CASES[0]!);
    const err = await failure(exchange.placeOrder({ ...ORDERS.spotBuy, qty: new Decimal('0.012345') }));
    expect(err).toMatchObject({ code: 'QTY_OFF_STEP', reaction: 'refuse' });
    expect(replayer.count('POST', '/api/v3/order')).toBe(0);
  });
});
