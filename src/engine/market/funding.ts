import { Decimal, ZERO, compareDecimals } from '../domain/decimal.js';
import type { FundingRate } from '../domain/types.js';
import type { FeeCalculator } from './feeCalculator.js';
import type { HedgePair } from './instrumentInfo.js';

const HOURS_PER_YEAR = new Decimal(24 * 365);

export interface FundingOpportunity {
  coin: string;
  rate: Decimal;
  intervalHours: number;
  nextFundingTimeMs: number;
  /** Funding rate annualised, in percent: rate × (24 / interval) × 365 × 100. */
  fundingAprPct: Decimal;
  /** APR after paying the round trip of both legs once over the holding period. */
  netAprPct: Decimal;
  /** Hours of funding needed to earn back the round-trip fees; null when funding is not positive. */
  breakEvenHours: Decimal | null;
}

/**
 * The ranking's own figures (APR %, break-even hours) are ratios to show and sort, not amounts:
 * 12 significant digits is far more than the chat shows, and divides and compares several times
 * faster than the 40 digits amounts carry. Rates and fees enter exactly.
 */
const Ratio = Decimal.clone({ precision: 12, rounding: Decimal.ROUND_HALF_EVEN });

/**
 * Ranks coins by net APR, best first; `holdDays` spreads the round-trip fees over a typical hold.
 * Factors that repeat (per interval, per fee schedule) are computed once per call, so each row
 * costs a few multiplications and at most one division.
 */
export function rankFunding(
  rates: readonly FundingRate[],
  pairOf: (coin: string) => HedgePair | null,
  fees: FeeCalculator,
  holdDays: number,
): FundingOpportunity[] {
  const aprFactors = new Map<number, Decimal>();
  const feeAprFactor = new Ratio(36_500).div(holdDays);
  // Pairs on one fee schedule share a round-trip object, so this holds one entry per schedule.
  const schedules = new Map<Decimal, { feeAprPct: Decimal; feeHours: Map<number, Decimal> }>();
  const rows: FundingOpportunity[] = [];
  for (const rate of rates) {
    const pair = pairOf(rate.coin);
    if (!pair) continue;
    const roundTrip = fees.roundTripRate(pair);
    let schedule = schedules.get(roundTrip);
    if (!schedule) {
      schedule = { feeAprPct: feeAprFactor.mul(roundTrip), feeHours: new Map() };
      schedules.set(roundTrip, schedule);
    }
    let aprFactor = aprFactors.get(rate.intervalHours);
    if (!aprFactor) {
      aprFactor = new Ratio(HOURS_PER_YEAR).mul(100).div(rate.intervalHours);
      aprFactors.set(rate.intervalHours, aprFactor);
    }
    // Round trip × interval: the break-even's numerator, one per schedule and interval.
    let feeHours = schedule.feeHours.get(rate.intervalHours);
    if (!feeHours) {
      feeHours = new Ratio(roundTrip).mul(rate.intervalHours);
      schedule.feeHours.set(rate.intervalHours, feeHours);
    }
    const aprPct = aprFactor.mul(rate.rate);
    rows.push({
      coin: rate.coin,
      rate: rate.rate,
      intervalHours: rate.intervalHours,
      nextFundingTimeMs: rate.nextFundingTimeMs,
      fundingAprPct: aprPct,
      netAprPct: aprPct.minus(schedule.feeAprPct),
      // Hours for funding (rate per interval) to pay the round trip: fees × interval / rate.
      breakEvenHours: rate.rate.gt(ZERO) ? feeHours.div(rate.rate) : null,
    });
  }
  return rows.sort((a, b) => compareDecimals(b.netAprPct, a.netAprPct));
}
