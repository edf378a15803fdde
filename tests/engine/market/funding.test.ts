import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import type { FundingRate, Instrument } from '../../../src/engine/domain/types.js';
import { FeeCalculator } from '../../../src/engine/market/feeCalculator.js';
import { rankFunding } from '../../../src/engine/market/funding.js';
import { InstrumentInfo } from '../../../src/engine/market/instrumentInfo.js';

function market(coin: string, spotTaker: string, perpTaker: string): Instrument[] {
  const common = { coin, qtyStep: new Decimal('0.001'), priceTick: new Decimal('0.01'), minQty: new Decimal('0.001'), maxQty: new Decimal(1_000), minNotionalUsd: new Decimal(5) };
  return [
    { ...common, kind: 'spot', symbol: `${coin}/USDT`, makerFeeRate: new Decimal(spotTaker), takerFeeRate: new Decimal(spotTaker) },
    { ...common, kind: 'perp', symbol: `${coin}/USDT:USDT`, makerFeeRate: new Decimal('0.0002'), takerFeeRate: new Decimal(perpTaker) },
  ];
}

const rate = (coin: string, value: string, intervalHours: number): FundingRate => ({
  coin,
  symbol: `${coin}/USDT:USDT`,
  rate: new Decimal(value),
  intervalHours,
  nextFundingTimeMs: 0,
});

function rank(rates: FundingRate[], info: InstrumentInfo, holdDays = 7, fees = new FeeCalculator()) {
  return rankFunding(rates, (coin) => (info.has(coin) ? info.pair(coin) : null), fees, holdDays);
}

describe('rankFunding', () => {
  const info = new InstrumentInfo([...market('AAA', '0.001', '0.0005'), ...market('BBB', '0.001', '0.0005'), ...market('CCC', '0.0006', '0.0004')]);

  it('gives APR, net APR after fees and break-even hours, best net APR first', () => {
    const rows = rank([rate('AAA', '0.0001', 8), rate('BBB', '0.0001', 1), rate('CCC', '-0.0002', 4), rate('ZZZ', '0.01', 8)], info);
    expect(rows.map((r) => r.coin)).toEqual(['BBB', 'AAA', 'CCC']);
    const [bbb, aaa, ccc] = rows;
    // 0.0001 per 1 h = 0.0001 × 24 × 365 × 100 % = 87.6 %; fees 0.003 round trip spread over 7 days
    // = 0.003 × 36,500 / 7 % = 15.642857142857…, shown to 12 significant digits.
    expect(bbb?.fundingAprPct.toString()).toBe('87.6');
    expect(bbb?.netAprPct.toString()).toBe('71.9571428571');
    // 0.003 of fees over 0.0001 per hour = 30 h.
    expect(bbb?.breakEvenHours?.toString()).toBe('30');
    expect(aaa?.fundingAprPct.toString()).toBe('10.95');
    expect(aaa?.netAprPct.toString()).toBe('-4.6928571429');
    expect(aaa?.breakEvenHours?.toString()).toBe('240');
    // Negative funding: shorts pay, so fees (0.002 round trip = 10.43 % over 7 days) are never earned back.
    expect(ccc?.fundingAprPct.toString()).toBe('-43.8');
    expect(ccc?.netAprPct.toString()).toBe('-54.2285714286');
    expect(ccc?.breakEvenHours).toBeNull();
    expect(ccc?.rate.toString()).toBe('-0.0002');
  });

  it('skips rates of coins without both markets', () => {
    expect(rank([rate('ZZZ', '0.001', 8)], info)).toEqual([]);
  });

  it('agrees with the same sums at 40 digits to within a unit in the 11th significant digit, and orders by them', () => {
    const holdDays = 7;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            millionths: fc.integer({ min: -2_000, max: 5_000 }),
            intervalHours: fc.constantFrom(1, 2, 4, 8),
            coin: fc.constantFrom('AAA', 'BBB', 'CCC'),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (drawn) => {
          const rates = drawn.map((d) => rate(d.coin, new Decimal(d.millionths).div(1_000_000).toString(), d.intervalHours));
          const rows = rank(rates, info, holdDays);
          expect(rows).toHaveLength(rates.length);
          for (const row of rows) {
            const pair = info.pair(row.coin);
            const roundTrip = pair.spot.takerFeeRate.plus(pair.perp.takerFeeRate).mul(2);
            const apr = row.rate.mul(24 * 365 * 100).div(row.intervalHours);
            const net = apr.minus(roundTrip.mul(36_500).div(holdDays));
            const close = (got: Decimal, exact: Decimal): boolean => got.minus(exact).abs().lte(exact.abs().mul('1e-10').plus('1e-9'));
            expect(close(row.fundingAprPct, apr)).toBe(true);
            expect(close(row.netAprPct, net)).toBe(true);
            if (row.rate.gt(0)) expect(close(row.breakEvenHours ?? new Decimal(-1), roundTrip.mul(row.intervalHours).div(row.rate))).toBe(true);
            else expect(row.breakEvenHours).toBeNull();
          }
          for (let i = 1; i < rows.length; i += 1) expect(rows[i - 1]!.netAprPct.gte(rows[i]!.netAprPct)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('works out a pair’s round trip once and shares it between pairs on the same fee schedule', () => {
    const fees = new FeeCalculator();
    const a = fees.roundTripRate(info.pair('AAA'));
    expect(a.toString()).toBe('0.003');
    expect(fees.roundTripRate(info.pair('AAA'))).toBe(a);
    expect(fees.roundTripRate(info.pair('BBB'))).toBe(a);
    expect(fees.roundTripRate(info.pair('CCC')).toString()).toBe('0.002');
    // A second ranking with the same calculator gives the same figures.
    const rates = [rate('AAA', '0.0003', 8), rate('CCC', '0.0001', 4)];
    expect(rank(rates, info, 7, fees).map((r) => r.netAprPct.toString())).toEqual(rank(rates, info, 7, new FeeCalculator()).map((r) => r.netAprPct.toString()));
  });
});
