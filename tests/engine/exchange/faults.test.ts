import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/engine/domain/errors.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';

describe('FaultPlan.parse', () => {
  it('reads a comma list of leg:coin:fault entries', () => {
    const plan = FaultPlan.parse('perp:BTC:reject, spot:eth:timeout,spot:SOL:partial,perp:DOGE:drift');
    expect(plan.faultFor('perp', 'BTC')).toBe('reject');
    expect(plan.faultFor('spot', 'ETH')).toBe('timeout');
    expect(plan.faultFor('spot', 'SOL')).toBe('partial');
    expect(plan.faultFor('perp', 'DOGE')).toBe('drift');
    expect(plan.faultFor('spot', 'BTC')).toBeNull();
    expect(plan.faultFor('perp', 'ETH')).toBeNull();
    expect(plan.describe()).toBe('perp:BTC:reject,spot:ETH:timeout,spot:SOL:partial,perp:DOGE:drift');
  });

  it.each([undefined, '', '   '])('gives an empty plan for %j', (text) => {
    const plan = FaultPlan.parse(text);
    expect(plan.faultFor('spot', 'BTC')).toBeNull();
    expect(plan.describe()).toBe('');
  });

  it.each(['futures:BTC:reject', 'perp:BTC:explode', 'perp::reject', 'perp:BTC', 'garbage'])(
    'refuses the bad entry %s with InvalidInputError naming it',
    (bad) => {
      const parse = () => FaultPlan.parse(`spot:ETH:reject,${bad}`);
      expect(parse).toThrow(InvalidInputError);
      expect(parse).toThrow(`"${bad}"`);
    },
  );

  it('names the bad entry, not the good ones', () => {
    try {
      FaultPlan.parse('spot:ETH:reject, perp:BTC:slow ,spot:SOL:drift');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).code).toBe('INVALID_INPUT');
      expect((err as Error).message).toContain('"perp:BTC:slow"');
      expect((err as Error).message).not.toContain('spot:ETH');
    }
  });
});
