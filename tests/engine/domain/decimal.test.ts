import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal, compareDecimals, floorToStep, lcmStep } from '../../../src/engine/domain/decimal.js';

const d = (v: string): Decimal => new Decimal(v);

describe('lcmStep', () => {
  it.each([
    ['0.001', '0.005', '0.005'],
    ['0.00001', '0.001', '0.001'],
    ['0.01', '1', '1'],
    ['1', '100', '100'],
    ['0.04', '0.06', '0.12'],
    ['0.1', '0.1', '0.1'],
    ['0.25', '0.1', '0.5'],
    ['0.3', '0.2', '0.6'],
    ['3', '0.2', '3'],
  ])('lcm(%s, %s) = %s', (a, b, expected) => {
    expect(lcmStep(d(a), d(b)).eq(d(expected))).toBe(true);
    expect(lcmStep(d(b), d(a)).eq(d(expected))).toBe(true);
  });

  it('is a whole multiple of both steps', () => {
    const lcm = lcmStep(d('0.015'), d('0.0004'));
    expect(lcm.div('0.015').isInteger()).toBe(true);
    expect(lcm.div('0.0004').isInteger()).toBe(true);
    expect(lcm.eq(d('0.03'))).toBe(true);
  });
});

describe('floorToStep', () => {
  it('rounds down to a whole multiple of the step', () => {
    expect(floorToStep(d('0.01999'), d('0.001')).eq(d('0.019'))).toBe(true);
    expect(floorToStep(d('250'), d('100')).eq(d('200'))).toBe(true);
    expect(floorToStep(d('0.02'), d('0.001')).eq(d('0.02'))).toBe(true);
  });
});

describe('compareDecimals', () => {
  // Values of every shape the ranking meets: signs, zeros (and −0), long and short digit runs,
  // equal leading words, numbers that differ only far right, and the 12-digit ratios.
  const Ratio = Decimal.clone({ precision: 12 });
  const decimal = fc.oneof(
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).chain((units) => fc.integer({ min: 0, max: 40 }).map((scale) => new Decimal(units.toString()).div(new Decimal(10).pow(scale)))),
    fc.constantFrom('0', '-0', '1', '-1', '0.0000001', '10000000', '9999999', '1e-30', '-1e-30', '123.4567890123456789').map((v) => new Decimal(v)),
    fc.tuple(fc.integer({ min: -5_000, max: 5_000 }), fc.integer({ min: 1, max: 9 })).map(([a, b]) => new Ratio(a).div(b)),
  );

  it('orders any two Decimals exactly as comparedTo does', () => {
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        expect(compareDecimals(a, b)).toBe(a.comparedTo(b));
        expect(compareDecimals(b, a)).toBe(b.comparedTo(a));
        expect(compareDecimals(a, a)).toBe(0);
      }),
      { numRuns: 3_000 },
    );
  });

  it('puts near neighbours in the right order', () => {
    expect(compareDecimals(d('1.00000001'), d('1.000000010'))).toBe(0);
    expect(compareDecimals(d('1.00000001'), d('1.00000002'))).toBe(-1);
    expect(compareDecimals(d('-1.00000001'), d('-1.00000002'))).toBe(1);
    expect(compareDecimals(d('0'), d('-0.0000001'))).toBe(1);
    expect(compareDecimals(d('-0'), d('0'))).toBe(0);
    expect(compareDecimals(d('12345678.9'), d('12345679'))).toBe(-1);
  });
});
