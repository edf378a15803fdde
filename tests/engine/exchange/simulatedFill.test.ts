import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { OrderRejectedError } from '../../../src/engine/domain/errors.js';
import type { Instrument, OrderRequest, Side } from '../../../src/engine/domain/types.js';
import { simulateFill, takerPrice } from '../../../src/engine/exchange/simulatedFill.js';

const d = (v: string | number): Decimal => new Decimal(v);

const spotBtc: Instrument = {
  coin: 'BTC',
  kind: 'spot',
  symbol: 'BTC/USDT',
  qtyStep: d('0.00001'),
  priceTick: d('0.1'),
  minQty: d('0.00001'),
  maxQty: d('50'),
  minNotionalUsd: d('5'),
  makerFeeRate: d('0.001'),
  takerFeeRate: d('0.001'),
};

function request(side: Side, qty: string): OrderRequest {
  return { clientOrderId: `op1${side}`, coin: 'BTC', kind: 'spot', symbol: 'BTC/USDT', side, qty: d(qty), reduceOnly: false };
}

function fill(side: Side, qty: string, fault: Parameters<typeof simulateFill>[0]['fault'] = null) {
  return simulateFill({
    request: request(side, qty),
    instrument: spotBtc,
    referencePrice: d('95012.3'),
    slippageBps: d(5),
    fault,
    nowMs: 1234,
    orderId: 'sim1',
  });
}

describe('takerPrice', () => {
  it('buys 5 bps above and sells 5 bps below the reference, exactly', () => {
    expect(takerPrice(d('95012.3'), 'buy', d(5)).eq(d('95012.3').mul('1.0005'))).toBe(true);
    expect(takerPrice(d('95012.3'), 'buy', d(5)).eq(d('95059.80615'))).toBe(true);
    expect(takerPrice(d('95012.3'), 'sell', d(5)).eq(d('95012.3').mul('0.9995'))).toBe(true);
    expect(takerPrice(d('95012.3'), 'sell', d(5)).eq(d('94964.79385'))).toBe(true);
  });

  it('always goes against the taker', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000_000 }), fc.integer({ min: 0, max: 8 }), (units, scale) => {
        const reference = d(units).div(d(10).pow(scale));
        expect(takerPrice(reference, 'buy', d(5)).gt(reference)).toBe(true);
        expect(takerPrice(reference, 'sell', d(5)).lt(reference)).toBe(true);
        expect(takerPrice(reference, 'buy', d(5)).eq(reference.mul('1.0005'))).toBe(true);
        expect(takerPrice(reference, 'sell', d(5)).eq(reference.mul('0.9995'))).toBe(true);
      }),
    );
  });
});

describe('simulateFill', () => {
  it('fills a buy in full at last × 1.0005 with the taker fee on the notional', () => {
    const result = fill('buy', '0.01234');
    expect(result).not.toBeNull();
    expect(result!.status).toBe('filled');
    expect(result!.filledQty.eq(d('0.01234'))).toBe(true);
    expect(result!.requestedQty.eq(d('0.01234'))).toBe(true);
    expect(result!.avgPrice.eq(d('95012.3').mul('1.0005'))).toBe(true);
    expect(result!.feeUsd.eq(d('0.01234').mul(d('95012.3').mul('1.0005')).mul('0.001'))).toBe(true);
    expect(result!.simulated).toBe(true);
    expect(result!.timestampMs).toBe(1234);
    expect(result!.clientOrderId).toBe('op1buy');
    expect(result!.orderId).toBe('sim1');
  });

  it('fills a sell at last × 0.9995', () => {
    const result = fill('sell', '2');
    expect(result!.avgPrice.eq(d('94964.79385'))).toBe(true);
    expect(result!.feeUsd.eq(d('2').mul('94964.79385').mul('0.001'))).toBe(true);
    expect(result!.simulated).toBe(true);
  });

  it('rejects on a reject fault and never answers on a timeout fault', () => {
    expect(() => fill('buy', '0.01', 'reject')).toThrow(OrderRejectedError);
    expect(fill('buy', '0.01', 'timeout')).toBeNull();
  });

  it('refuses a quantity off the lot step or not positive, as a venue does, before any fault', () => {
    for (const qty of ['0.000015', '0', '-0.01']) {
      expect(() => fill('sell', qty)).toThrow(OrderRejectedError);
      expect(() => fill('sell', qty, 'timeout')).toThrow(/must be a positive multiple of 0.00001/);
    }
    expect(() => fill('sell', '0.0199905')).toThrow(expect.objectContaining({ code: 'QTY_OFF_STEP' }));
    expect(fill('sell', '0.01999')!.filledQty.toString()).toBe('0.01999');
  });

  it('fills half, rounded down to the lot, on a partial fault', () => {
    const result = fill('buy', '0.01235', 'partial');
    expect(result!.status).toBe('partial');
    expect(result!.filledQty.eq(d('0.00617'))).toBe(true);
    expect(result!.requestedQty.eq(d('0.01235'))).toBe(true);
    expect(result!.feeUsd.eq(d('0.00617').mul(result!.avgPrice).mul('0.001'))).toBe(true);
  });

  it('reports a spot buy filled but delivers 97 % on a drift fault; the selling back fills in full', () => {
    const result = fill('buy', '0.02', 'drift');
    expect(result!.status).toBe('filled');
    expect(result!.filledQty.eq(d('0.0194'))).toBe(true);
    expect(fill('sell', '0.0194', 'drift')!.filledQty.eq(d('0.0194'))).toBe(true);
  });

  it('on a perp drift fault shortens the short sale and fills the buy-back in full', () => {
    const perp: Instrument = { ...spotBtc, kind: 'perp', symbol: 'BTC/USDT:USDT', qtyStep: d('0.001'), takerFeeRate: d('0.0005') };
    const at = (side: Side, qty: string) =>
      simulateFill({
        request: { ...request(side, qty), kind: 'perp', symbol: 'BTC/USDT:USDT' },
        instrument: perp,
        referencePrice: d('95012.3'),
        slippageBps: d(5),
        fault: 'drift',
        nowMs: 0,
        orderId: 'sim2',
      })!;
    expect(at('sell', '0.1').filledQty.eq(d('0.097'))).toBe(true);
    expect(at('buy', '0.1').filledQty.eq(d('0.1'))).toBe(true);
  });
});
