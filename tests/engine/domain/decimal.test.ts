import { describe, expect, it } from 'vitest';
import { Decimal, floorToStep, lcmStep } from '../../../src/engine/domain/decimal.js';

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
