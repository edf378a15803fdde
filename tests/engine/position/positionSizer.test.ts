import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal, lcmStep } from '../../../src/engine/domain/decimal.js';
import { InsufficientSizeError } from '../../../src/engine/domain/errors.js';
import type { Instrument } from '../../../src/engine/domain/types.js';
import { SIM_CATALOG } from '../../../src/engine/exchange/simulatedCatalog.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { type HedgePair, InstrumentInfo } from '../../../src/engine/market/instrumentInfo.js';
import { PositionSizer } from '../../../src/engine/position/positionSizer.js';

const d = (v: string | number): Decimal => new Decimal(v);
const sizer = new PositionSizer();
const info = await InstrumentInfo.load(new SimulatedExchange({ clock: new ManualClock() }));
const catalogPrice = new Map(SIM_CATALOG.map((c) => [c.coin, d(c.price)]));

function instrument(kind: 'spot' | 'perp', over: Partial<Instrument>): Instrument {
  return {
    coin: 'XYZ',
    kind,
    symbol: kind === 'spot' ? 'XYZ/USDT' : 'XYZ/USDT:USDT',
    qtyStep: d('0.001'),
    priceTick: d('0.01'),
    minQty: d('0.001'),
    maxQty: d('1000'),
    minNotionalUsd: d('5'),
    makerFeeRate: d('0.001'),
    takerFeeRate: d('0.001'),
    ...over,
  };
}

const pairOf = (spot: Partial<Instrument>, perp: Partial<Instrument>): HedgePair => ({
  coin: 'XYZ',
  spot: instrument('spot', spot),
  perp: instrument('perp', perp),
});

/** Every rule of both legs, checked independently of the sizer's own arithmetic. */
function expectValidOnBothLegs(pair: HedgePair, qty: Decimal, spotPrice: Decimal, perpPrice: Decimal, notional: Decimal): void {
  for (const [leg, price] of [[pair.spot, spotPrice], [pair.perp, perpPrice]] as const) {
    expect(qty.mod(leg.qtyStep).isZero(), `${qty.toString()} is not a multiple of ${leg.qtyStep.toString()}`).toBe(true);
    expect(qty.gte(leg.minQty)).toBe(true);
    expect(qty.lte(leg.maxQty)).toBe(true);
    expect(qty.mul(price).gte(leg.minNotionalUsd)).toBe(true);
    // Neither leg trades more than the notional asked for.
    expect(qty.mul(price).lte(notional)).toBe(true);
  }
}

describe('PositionSizer', () => {
  it('sizes on the dearer leg and floors to the common lot', () => {
    const pair = info.pair('BTC');
    const qty = sizer.size(pair, d(2000), d('95000'), d('95100'));
    // 2000 / 95100 = 0.02103…, floored to lcm(0.00001, 0.001) = 0.001.
    expect(qty.eq('0.021')).toBe(true);
  });

  it('takes a quantity that fits a coarse perp lot (PEPE: spot 1, perp 100)', () => {
    const pair = info.pair('PEPE');
    const qty = sizer.size(pair, d(100), d('0.000018'), d('0.0000181'));
    expect(qty.eq(5_524_800)).toBe(true);
    expectValidOnBothLegs(pair, qty, d('0.000018'), d('0.0000181'), d(100));
  });

  it('gives, for any notional, a quantity every rule of both legs accepts, or refuses with InsufficientSizeError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...info.coins()),
        fc.integer({ min: 1, max: 50_000_000 }),
        fc.integer({ min: -30, max: 30 }),
        (coin, cents, premiumBps) => {
          const pair = info.pair(coin);
          const spotPrice = catalogPrice.get(coin)!;
          const perpPrice = spotPrice.mul(d(premiumBps).div(10_000).plus(1));
          const notional = d(cents).div(100);
          const minUsd = sizer.minNotionalUsd(pair, spotPrice, perpPrice);
          let qty: Decimal;
          try {
            qty = sizer.size(pair, notional, spotPrice, perpPrice);
          } catch (err) {
            expect(err).toBeInstanceOf(InsufficientSizeError);
            expect(notional.lt(minUsd)).toBe(true);
            return;
          }
          expectValidOnBothLegs(pair, qty, spotPrice, perpPrice, notional);
          // The largest such quantity: one more common lot would overshoot the notional.
          const step = lcmStep(pair.spot.qtyStep, pair.perp.qtyStep);
          expect(qty.plus(step).mul(Decimal.max(spotPrice, perpPrice)).gt(notional)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('accepts any notional from the advertised minimum up', () => {
    fc.assert(
      fc.property(fc.constantFrom(...info.coins()), fc.integer({ min: 0, max: 1_000_000 }), (coin, extraCents) => {
        const pair = info.pair(coin);
        const price = catalogPrice.get(coin)!;
        const notional = sizer.minNotionalUsd(pair, price, price).plus(d(extraCents).div(100));
        expectValidOnBothLegs(pair, sizer.size(pair, notional, price, price), price, price, notional);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a notional too small for the perp minimum notional, naming the market and the smallest hedge', () => {
    const pair = info.pair('BTC');
    // 0.001 BTC passes every lot rule but is 95 USD, under the perp's 100 USD minimum.
    const size = () => sizer.size(pair, d(99), d('95000'), d('95000'));
    expect(size).toThrow(InsufficientSizeError);
    expect(size).toThrow(/perp market needs at least 100 USD/);
    expect(size).toThrow(/about 190 USD per leg/);
    expect(sizer.minNotionalUsd(pair, d('95000'), d('95000')).eq(190)).toBe(true);
    expect(sizer.size(pair, d(190), d('95000'), d('95000')).eq('0.002')).toBe(true);
  });

  it('refuses a notional below one common lot', () => {
    const pair = info.pair('SOL');
    // Perp lot is 1 SOL (≈ 190 USD): 150 USD buys no whole lot.
    expect(() => sizer.size(pair, d(150), d('190'), d('190'))).toThrow(InsufficientSizeError);
    try {
      sizer.size(pair, d(150), d('190'), d('190'));
    } catch (err) {
      expect((err as InsufficientSizeError).code).toBe('INSUFFICIENT_SIZE');
      expect((err as InsufficientSizeError).reaction).toBe('refuse');
    }
  });

  it('refuses a quantity under a leg minimum quantity', () => {
    const pair = pairOf({ minQty: d('0.5') }, {});
    expect(() => sizer.size(pair, d(40), d(100), d(100))).toThrow(InsufficientSizeError);
    expect(sizer.size(pair, d(50), d(100), d(100)).eq('0.5')).toBe(true);
  });

  it('refuses a quantity above a leg maximum order', () => {
    const pair = pairOf({}, { maxQty: d('2') });
    expect(() => sizer.size(pair, d(300), d(100), d(100))).toThrow(/maximum order of 2/);
    expect(sizer.size(pair, d(200), d(100), d(100)).eq(2)).toBe(true);
  });

  it('uses the least common multiple of steps that do not divide each other', () => {
    const pair = pairOf({ qtyStep: d('0.04'), minQty: d('0.04') }, { qtyStep: d('0.06'), minQty: d('0.06') });
    const qty = sizer.size(pair, d(50), d(100), d(100));
    expect(qty.eq('0.48')).toBe(true);
    expectValidOnBothLegs(pair, qty, d(100), d(100), d(50));
  });
});
