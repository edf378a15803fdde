import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { InvalidInputError, NotFoundError } from '../../../src/engine/domain/errors.js';
import type { OrderRequest } from '../../../src/engine/domain/types.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { InstrumentInfo } from '../../../src/engine/market/instrumentInfo.js';

export interface ExchangeSubject {
  exchange: Exchange;
  /** A market order the venue fills in full (a spot buy of a coin with both legs). */
  order: OrderRequest;
  /** Brings the account to having held a short in the perp across funding times (or a record of it). */
  holdShortAcrossFunding(): Promise<{ symbol: string; sinceMs: number }>;
}

const isDecimal = (value: unknown): boolean => value instanceof Decimal;

/**
 * What the engine relies on from any venue behind the Exchange port. The simulated venue and the
 * ccxt adapter (over recorded venue answers) both run it.
 */
export function exchangeContract(name: string, setup: () => Promise<ExchangeSubject>): void {
  describe(`Exchange contract: ${name}`, () => {
    it('lists both legs of the coin, with positive Decimal trading rules', async () => {
      const { exchange, order } = await setup();
      const instruments = await exchange.loadInstruments();
      const info = new InstrumentInfo(instruments);
      const pair = info.pair(order.coin);
      expect(pair.spot.symbol).toBe(`${order.coin}/USDT`);
      expect(pair.perp.symbol).toBe(`${order.coin}/USDT:USDT`);
      for (const instrument of instruments) {
        expect(info.has(instrument.coin)).toBe(true);
        for (const value of [instrument.qtyStep, instrument.priceTick, instrument.minQty, instrument.maxQty]) {
          expect(isDecimal(value) && value.gt(0)).toBe(true);
        }
        expect(isDecimal(instrument.minNotionalUsd) && instrument.minNotionalUsd.gte(0)).toBe(true);
        expect(isDecimal(instrument.takerFeeRate) && isDecimal(instrument.makerFeeRate)).toBe(true);
        expect(instrument.minQty.div(instrument.qtyStep).isInteger()).toBe(true);
      }
    });

    it('quotes the requested symbols in order, bid ≤ ask, as Decimals', async () => {
      const { exchange, order } = await setup();
      const symbols = [`${order.coin}/USDT:USDT`, `${order.coin}/USDT`];
      const tickers = await exchange.fetchTickers(symbols);
      expect(tickers.map((t) => t.symbol)).toEqual(symbols);
      for (const t of tickers) {
        expect([t.bid, t.ask, t.last].every(isDecimal)).toBe(true);
        expect(t.bid.gt(0) && t.bid.lte(t.ask) && t.last.gt(0)).toBe(true);
        expect(Number.isInteger(t.timestampMs)).toBe(true);
      }
    });

    it('refuses a symbol it does not list', async () => {
      const { exchange } = await setup();
      await expect(exchange.fetchTickers(['NOPE/USDT'])).rejects.toThrow(NotFoundError);
    });

    it('reports funding of perps with the interval in hours and the next funding time', async () => {
      const { exchange, order } = await setup();
      const rates = await exchange.fetchFundingRates();
      expect(rates.map((r) => r.coin)).toContain(order.coin);
      for (const r of rates) {
        expect(r.symbol).toBe(`${r.coin}/USDT:USDT`);
        expect(isDecimal(r.rate)).toBe(true);
        expect(r.intervalHours).toBeGreaterThan(0);
        expect(Number.isInteger(r.nextFundingTimeMs) && r.nextFundingTimeMs > 0).toBe(true);
      }
    });

    it('fills a market order with Decimal amounts under the given client order id', async () => {
      const { exchange, order } = await setup();
      const fill = await exchange.placeOrder(order);
      expect(fill).toMatchObject({ clientOrderId: order.clientOrderId, coin: order.coin, kind: order.kind, symbol: order.symbol, side: order.side, status: 'filled' });
      expect([fill.requestedQty, fill.filledQty, fill.avgPrice, fill.feeUsd].every(isDecimal)).toBe(true);
      expect(fill.requestedQty.eq(order.qty)).toBe(true);
      expect(fill.filledQty.gt(0) && fill.filledQty.lte(order.qty)).toBe(true);
      expect(fill.avgPrice.gt(0) && fill.feeUsd.gte(0)).toBe(true);
      expect(fill.orderId).not.toBe('');
      expect(typeof fill.simulated).toBe('boolean');
    });

    it('finds a placed order by its client order id', async () => {
      const { exchange, order } = await setup();
      const fill = await exchange.placeOrder(order);
      const found = await exchange.fetchOrderByClientId(order.symbol, order.clientOrderId);
      expect(found).not.toBeNull();
      expect(found).toMatchObject({ clientOrderId: order.clientOrderId, orderId: fill.orderId, side: fill.side, symbol: fill.symbol });
      expect(found!.filledQty.eq(fill.filledQty)).toBe(true);
      expect(found!.avgPrice.eq(fill.avgPrice)).toBe(true);
      expect(found!.feeUsd.eq(fill.feeUsd)).toBe(true);
    });

    it('reports the funding paid on a perp held across funding times, as Decimals with ids, oldest first', async () => {
      const { exchange, holdShortAcrossFunding } = await setup();
      const { symbol, sinceMs } = await holdShortAcrossFunding();
      const payments = await exchange.fetchFundingPayments(symbol, sinceMs);
      expect(payments.length).toBeGreaterThan(0);
      expect(new Set(payments.map((p) => p.id)).size).toBe(payments.length);
      for (const p of payments) {
        expect(p.symbol).toBe(symbol);
        expect(symbol).toBe(`${p.coin}/USDT:USDT`);
        expect(typeof p.id === 'string' && p.id !== '').toBe(true);
        expect(isDecimal(p.amountUsd) && !p.amountUsd.isZero()).toBe(true);
        expect(Number.isInteger(p.atMs) && p.atMs >= sinceMs).toBe(true);
      }
      expect(payments.map((p) => p.atMs)).toEqual([...payments.map((p) => p.atMs)].sort((a, b) => a - b));
      const later = payments.at(-1)!.atMs;
      expect((await exchange.fetchFundingPayments(symbol, later)).map((p) => p.id)).toEqual([payments.at(-1)!.id]);
      await expect(exchange.fetchFundingPayments('NOPE/USDT:USDT', sinceMs)).rejects.toThrow(NotFoundError);
    });

    it('reports the rate settled at each funding time, oldest first, as Decimals, at the times it paid funding', async () => {
      const { exchange, holdShortAcrossFunding } = await setup();
      const { symbol, sinceMs } = await holdShortAcrossFunding();
      const settled = await exchange.fetchFundingRateHistory(symbol, sinceMs);
      expect(settled.length).toBeGreaterThan(0);
      for (const s of settled) {
        expect(isDecimal(s.rate)).toBe(true);
        expect(Number.isInteger(s.atMs) && s.atMs >= sinceMs).toBe(true);
      }
      const times = settled.map((s) => s.atMs);
      expect(new Set(times).size).toBe(times.length);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      // Every payment was made at a funding time with a settled rate, a minute either side at most.
      for (const payment of await exchange.fetchFundingPayments(symbol, sinceMs)) {
        expect(times.some((atMs) => Math.abs(atMs - payment.atMs) <= 60_000), `payment at ${payment.atMs}`).toBe(true);
      }
      const last = settled.at(-1)!;
      expect((await exchange.fetchFundingRateHistory(symbol, last.atMs)).map((s) => `${s.atMs} ${s.rate.toString()}`)).toEqual([`${last.atMs} ${last.rate.toString()}`]);
      await expect(exchange.fetchFundingRateHistory('NOPE/USDT:USDT', sinceMs)).rejects.toThrow(NotFoundError);
      await expect(exchange.fetchFundingRateHistory(symbol.replace(':USDT', ''), sinceMs)).rejects.toThrow(InvalidInputError);
    });

    it('answers null for a client order id it never saw', async () => {
      const { exchange, order } = await setup();
      expect(await exchange.fetchOrderByClientId(order.symbol, 'opneverplaced1s')).toBeNull();
    });
  });
}
