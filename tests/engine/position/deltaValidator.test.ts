import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { DeltaValidator } from '../../../src/engine/position/deltaValidator.js';

const d = (v: string | number): Decimal => new Decimal(v);

describe('DeltaValidator', () => {
  const validator = new DeltaValidator(d(50));

  it('measures drift in coin units and in bps of the larger leg', () => {
    const status = validator.check('BTC', d('0.0194'), d('0.02'));
    expect(status.coin).toBe('BTC');
    expect(status.driftQty.eq('0.0006')).toBe(true);
    expect(status.driftBps.eq(300)).toBe(true);
    expect(status.toleranceBps.eq(50)).toBe(true);
    expect(status.withinTolerance).toBe(false);
  });

  it('is symmetric in which leg is larger', () => {
    const a = validator.check('ETH', d('1.3'), d('1.2'));
    const b = validator.check('ETH', d('1.2'), d('1.3'));
    expect(a.driftBps.eq(b.driftBps)).toBe(true);
    expect(a.driftBps.eq(d('0.1').div('1.3').mul(10_000))).toBe(true);
  });

  it('accepts drift exactly at the tolerance and refuses anything above it', () => {
    const atEdge = validator.check('BTC', d(1), d('0.995'));
    expect(atEdge.driftBps.eq(50)).toBe(true);
    expect(atEdge.withinTolerance).toBe(true);
    const over = validator.check('BTC', d(1), d('0.99499999'));
    expect(over.driftBps.gt(50)).toBe(true);
    expect(over.withinTolerance).toBe(false);
  });

  it('sees matched legs, and two empty legs, as no drift', () => {
    expect(validator.check('SOL', d(7), d(7)).driftBps.isZero()).toBe(true);
    const empty = validator.check('SOL', d(0), d(0));
    expect(empty.driftBps.isZero()).toBe(true);
    expect(empty.withinTolerance).toBe(true);
  });

  it('with zero tolerance accepts only equal legs', () => {
    const strict = new DeltaValidator(d(0));
    expect(strict.check('BTC', d('0.02'), d('0.02')).withinTolerance).toBe(true);
    expect(strict.check('BTC', d('0.02'), d('0.02001')).withinTolerance).toBe(false);
  });
});
