import { Decimal, ZERO } from '../domain/decimal.js';
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

export function fundingAprPct(rate: FundingRate): Decimal {
  return rate.rate.mul(HOURS_PER_YEAR).div(rate.intervalHours).mul(100);
}

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
  const feeAprFactor = new Decimal(36_500).div(holdDays);
  // Many coins share a fee schedule, so the round trip is computed once per schedule.
  const roundTrips = new Map<string, { roundTrip: Decimal; feeAprPct: Decimal }>();
  const rows: FundingOpportunity[] = [];
  for (const rate of rates) {
    const pair = pairOf(rate.coin);
    if (!pair) continue;
    const feeKey = `${pair.spot.takerFeeRate.toString()}/${pair.perp.takerFeeRate.toString()}`;
    let fee = roundTrips.get(feeKey);
    if (!fee) {
      const roundTrip = fees.roundTripRate(pair);
      fee = { roundTrip, feeAprPct: roundTrip.mul(feeAprFactor) };
      roundTrips.set(feeKey, fee);
    }
    let aprFactor = aprFactors.get(rate.intervalHours);
    if (!aprFactor) {
      aprFactor = HOURS_PER_YEAR.mul(100).div(rate.intervalHours);
      aprFactors.set(rate.intervalHours, aprFactor);
    }
    const aprPct = rate.rate.mul(aprFactor);
    rows.push({
      coin: rate.coin,
      rate: rate.rate,
      intervalHours: rate.intervalHours,
      nextFundingTimeMs: rate.nextFundingTimeMs,
      fundingAprPct: aprPct,
      netAprPct: aprPct.minus(fee.feeAprPct),
      // Hours for funding (rate per interval) to pay the round trip: fees × interval / rate.
      breakEvenHours: rate.rate.gt(ZERO) ? fee.roundTrip.mul(rate.intervalHours).div(rate.rate) : null,
    });
  }
  return rows.sort((a, b) => b.netAprPct.comparedTo(a.netAprPct));
}
