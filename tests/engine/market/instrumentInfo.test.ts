import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { NotFoundError } from '../../../src/engine/domain/errors.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { FeeCalculator } from '../../../src/engine/market/feeCalculator.js';
import { InstrumentInfo } from '../../../src/engine/market/instrumentInfo.js';

const load = () => InstrumentInfo.load(new SimulatedExchange({ clock: new ManualClock() }));

describe('InstrumentInfo', () => {
  it('pairs the spot and perp market of each coin', async () => {
    const info = await load();
    const btc = info.pair('BTC');
    expect(btc.spot.qtyStep.eq('0.00001')).toBe(true);
    expect(btc.perp.qtyStep.eq('0.001')).toBe(true);
    expect(btc.perp.minNotionalUsd.eq(100)).toBe(true);
    expect(info.has('BTC')).toBe(true);
    expect(info.allSymbols()).toContain('BTC/USDT:USDT');
  });

  it('leaves out a coin that lacks one of the two markets', async () => {
    const instruments = await new SimulatedExchange({ clock: new ManualClock() }).loadInstruments();
    const info = new InstrumentInfo(instruments.filter((i) => !(i.coin === 'ETH' && i.kind === 'perp')));
    expect(info.has('ETH')).toBe(false);
    expect(info.coins()).not.toContain('ETH');
    expect(() => info.pair('ETH')).toThrow(NotFoundError);
  });

  it('refuses an unknown coin with NotFoundError saying where to look', async () => {
    const info = await load();
    expect(() => info.pair('NOPE')).toThrow(NotFoundError);
    expect(() => info.pair('NOPE')).toThrow(/\/funding lists the \d+ coins/);
  });
});

describe('FeeCalculator', () => {
  it('charges qty × price × taker rate and a round trip of both legs twice', async () => {
    const pair = (await load()).pair('BTC');
    const fees = new FeeCalculator();
    expect(fees.takerFeeUsd(pair.spot, new Decimal('0.02'), new Decimal('95047.5')).eq('1.90095')).toBe(true);
    expect(fees.takerFeeUsd(pair.perp, new Decimal('0.02'), new Decimal('95047.5')).eq('0.950475')).toBe(true);
    expect(fees.roundTripRate(pair).eq('0.003')).toBe(true);
  });
});
