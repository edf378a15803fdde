import * as ccxt from 'ccxt';
import { describe, expect, it } from 'vitest';
import { BotError, OrderRejectedError, OrderTimeoutError } from '../../../src/engine/domain/errors.js';
import { ccxtErrorNames, mapCcxtError, redactVenueMessage, type VenueAction } from '../../../src/engine/exchange/ccxtErrors.js';
import { parseIntervalHours, venueClientOrderId } from '../../../src/engine/exchange/ccxtVenues.js';
import { ORDERS, TEST_KEYS, binanceVenue, exchangeOver } from './ccxtVenueFixtures.js';

const KEY = 'vmPUN4ds0nhgM1k1aB2c3D4e5F6g7H8i9J0xYz12';
const SECRET = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';

function map(err: unknown, action: VenueAction = 'read'): BotError {
  return mapCcxtError(err, { venue: 'binance', action, what: 'buy 0.01 BTC/USDT', secrets: [KEY, SECRET] });
}

describe('mapCcxtError', () => {
  it.each([
    // How a failed order placement is reported, and how any other failed call is.
    { error: ccxt.InsufficientFunds, placing: OrderRejectedError, placeCode: 'INSUFFICIENT_FUNDS', placeReaction: 'refuse', readCode: 'INSUFFICIENT_FUNDS', readReaction: 'refuse' },
    { error: ccxt.InvalidOrder, placing: OrderRejectedError, placeCode: 'ORDER_REJECTED', placeReaction: 'refuse', readCode: 'INVALID_ORDER', readReaction: 'refuse' },
    { error: ccxt.OrderImmediatelyFillable, placing: OrderRejectedError, placeCode: 'ORDER_REJECTED', placeReaction: 'refuse', readCode: 'INVALID_ORDER', readReaction: 'refuse' },
    { error: ccxt.MarketClosed, placing: OrderRejectedError, placeCode: 'ORDER_REJECTED', placeReaction: 'refuse', readCode: 'VENUE_REFUSED', readReaction: 'alert' },
    { error: ccxt.RateLimitExceeded, placing: OrderRejectedError, placeCode: 'VENUE_RATE_LIMITED', placeReaction: 'retry', readCode: 'VENUE_RATE_LIMITED', readReaction: 'retry' },
    { error: ccxt.DDoSProtection, placing: OrderRejectedError, placeCode: 'VENUE_RATE_LIMITED', placeReaction: 'retry', readCode: 'VENUE_RATE_LIMITED', readReaction: 'retry' },
    { error: ccxt.RequestTimeout, placing: OrderTimeoutError, placeCode: 'ORDER_TIMEOUT', placeReaction: 'alert', readCode: 'VENUE_TIMEOUT', readReaction: 'retry' },
    { error: ccxt.NetworkError, placing: OrderTimeoutError, placeCode: 'ORDER_TIMEOUT', placeReaction: 'alert', readCode: 'VENUE_NETWORK', readReaction: 'retry' },
    { error: ccxt.ExchangeNotAvailable, placing: OrderTimeoutError, placeCode: 'ORDER_TIMEOUT', placeReaction: 'alert', readCode: 'VENUE_UNAVAILABLE', readReaction: 'retry' },
    { error: ccxt.OnMaintenance, placing: OrderRejectedError, placeCode: 'VENUE_UNAVAILABLE', placeReaction: 'retry', readCode: 'VENUE_UNAVAILABLE', readReaction: 'retry' },
    { error: ccxt.InvalidNonce, placing: OrderRejectedError, placeCode: 'VENUE_CLOCK_SKEW', placeReaction: 'retry', readCode: 'VENUE_CLOCK_SKEW', readReaction: 'retry' },
    { error: ccxt.AuthenticationError, placing: OrderRejectedError, placeCode: 'VENUE_AUTH', placeReaction: 'alert', readCode: 'VENUE_AUTH', readReaction: 'alert' },
    { error: ccxt.PermissionDenied, placing: OrderRejectedError, placeCode: 'VENUE_AUTH', placeReaction: 'alert', readCode: 'VENUE_AUTH', readReaction: 'alert' },
    { error: ccxt.AccountSuspended, placing: OrderRejectedError, placeCode: 'VENUE_AUTH', placeReaction: 'alert', readCode: 'VENUE_AUTH', readReaction: 'alert' },
    // A broad class on an order proves nothing was placed (bybit 10014 "request is duplicate" is one): looked up.
    { error: ccxt.BadRequest, placing: OrderTimeoutError, placeCode: 'ORDER_TIMEOUT', placeReaction: 'alert', readCode: 'VENUE_BAD_REQUEST', readReaction: 'alert' },
    { error: ccxt.BadResponse, placing: OrderTimeoutError, placeCode: 'ORDER_TIMEOUT', placeReaction: 'alert', readCode: 'VENUE_BAD_RESPONSE', readReaction: 'retry' },
    { error: ccxt.ExchangeError, placing: OrderTimeoutError, placeCode: 'ORDER_TIMEOUT', placeReaction: 'alert', readCode: 'VENUE_ERROR', readReaction: 'alert' },
  ] as const)('$error.name → $placeCode when placing, $readCode otherwise', ({ error: ErrorClass, placing: PlaceClass, placeCode, placeReaction, readCode, readReaction }) => {
    const err = new ErrorClass('binance {"code":-1,"msg":"venue says no"}');
    const placed = map(err, 'placeOrder');
    expect(placed).toBeInstanceOf(PlaceClass);
    expect(placed).toMatchObject({ code: placeCode, reaction: placeReaction });
    expect(placed.message).toContain('venue says no');
    expect(placed.cause).toBe(err);
    expect(map(err, 'read')).toMatchObject({ code: readCode, reaction: readReaction });
  });

  it('reads the ccxt class chain without importing ccxt', () => {
    expect(ccxtErrorNames(new ccxt.OnMaintenance('x'))).toEqual(['OnMaintenance', 'ExchangeNotAvailable', 'NetworkError', 'OperationFailed', 'BaseError']);
  });

  it('passes our own errors through and wraps anything else as an alert', () => {
    const ours = new OrderRejectedError('no');
    expect(map(ours)).toBe(ours);
    expect(map(new TypeError('boom'))).toMatchObject({ code: 'VENUE_INTERNAL', reaction: 'alert' });
    expect(map('text')).toMatchObject({ code: 'VENUE_INTERNAL' });
  });

  it('keeps secrets and signed URLs out of the message', () => {
    const err = new ccxt.RequestTimeout(
      `binance POST https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1767225601123&signature=4cd7fc0a47880f8bbaf4a8138abf00e2ecc165d6f431f5b76627bf905cf2eb89 request timed out (10000 ms) key ${KEY}`,
    );
    const message = map(err, 'placeOrder').message;
    expect(message).toContain('https://api.binance.com/api/v3/order?[redacted]');
    expect(message).not.toMatch(/signature|4cd7fc0a|symbol=BTCUSDT/);
    expect(message).not.toContain(KEY);
  });
});

describe('redactVenueMessage', () => {
  it('removes given secrets, query strings, credential fields and long signatures', () => {
    const text = [
      `apiKey=${KEY}&secret=${SECRET}`,
      '{"X-MBX-APIKEY": "abc123def", "OK-ACCESS-PASSPHRASE": "hunter22", "OK-ACCESS-SIGN": "d2Vic2lnbmF0dXJl"}',
      'GET https://www.okx.com/api/v5/trade/order?instId=BTC-USDT&clOrdId=x 429 Too Many Requests',
      'sign: 0123456789abcdef0123456789abcdef01234567',
      'passphrase=okx-Passphrase-1',
    ].join(' | ');
    const redacted = redactVenueMessage(text, [KEY, SECRET]);
    for (const leak of [KEY, SECRET, 'abc123def', 'hunter22', 'd2Vic2lnbmF0dXJl', 'instId=BTC-USDT', '0123456789abcdef0123', 'okx-Passphrase-1']) {
      expect(redacted).not.toContain(leak);
    }
    expect(redacted).toContain('https://www.okx.com/api/v5/trade/order?[redacted] 429 Too Many Requests');
  });

  it('leaves venue error bodies, order ids and amounts readable', () => {
    const body = 'bybit {"retCode":110007,"retMsg":"ab not enough for new order","orderId":"7b2c1e07-9f4d-4a46-b0c1-5d7e2f3a9b11","qty":"0.01"}';
    expect(redactVenueMessage(body)).toBe(body);
  });

  it('keeps messages short', () => {
    expect(redactVenueMessage('x '.repeat(1000)).length).toBeLessThanOrEqual(401);
  });

  it('holds for a real ccxt timeout of a signed binance request', async () => {
    const replayer = binanceVenue().on('GET', '/api/v3/order', { timeout: true });
    const exchange = await exchangeOver('binance', replayer);
    const err = await exchange.fetchOrderByClientId('BTC/USDT', ORDERS.spotBuy.clientOrderId).catch((e: unknown) => e as BotError);
    expect(err).toMatchObject({ code: 'VENUE_TIMEOUT', reaction: 'retry' });
    const cause = (err as BotError).cause as Error;
    // ccxt's own message carries the signed URL; ours does not.
    expect(cause.message).toContain('signature=');
    expect((err as BotError).message).not.toMatch(/signature|timestamp=|origClientOrderId=/);
    expect((err as BotError).message).not.toContain(TEST_KEYS.binance.apiKey);
  });
});

describe('venue helpers', () => {
  it('normalises funding intervals to hours', () => {
    expect(parseIntervalHours('8h')).toBe(8);
    expect(parseIntervalHours('1h')).toBe(1);
    expect(parseIntervalHours('30m')).toBe(0.5);
    expect(parseIntervalHours('21600000')).toBe(6);
    expect(parseIntervalHours(4)).toBe(4);
    expect(parseIntervalHours(undefined)).toBeNull();
    expect(parseIntervalHours('soon')).toBeNull();
    expect(parseIntervalHours('0h')).toBeNull();
  });

  it('keeps a client order id the venue accepts and hashes one it would not, deterministically', () => {
    const okx = /^[A-Za-z0-9]{1,32}$/;
    expect(venueClientOrderId('opmjvk2a9cx4t8hs', okx, 32)).toBe('opmjvk2a9cx4t8hs');
    const odd = venueClientOrderId('op-with-dashes-and-far-too-long-for-okx', okx, 32);
    expect(odd).toMatch(okx);
    expect(odd).toHaveLength(32);
    expect(venueClientOrderId('op-with-dashes-and-far-too-long-for-okx', okx, 32)).toBe(odd);
    expect(venueClientOrderId('op-other', okx, 32)).not.toBe(odd);
  });
});
