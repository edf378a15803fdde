import { Decimal } from '../domain/decimal.js';
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

/** Ranks coins by net APR, best first; `holdDays` spreads the round-trip fees over a typical hold. */
export function rankFunding(
  rates: readonly FundingRate[],
  pairOf: (coin: string) => HedgePair | null,
  fees: FeeCalculator,
  holdDays: number,
): FundingOpportunity[] {
  const rows: FundingOpportunity[] = [];
  for (const rate of rates) {
    const pair = pairOf(rate.coin);
    if (!pair) continue;
    const roundTrip = fees.roundTripRate(pair);
    const aprPct = fundingAprPct(rate);
    const feeAprPct = roundTrip.mul(365).div(holdDays).mul(100);
    const ratePerHour = rate.rate.div(rate.intervalHours);
    rows.push({
      coin: rate.coin,
      rate: rate.rate,
      intervalHours: rate.intervalHours,
      nextFundingTimeMs: rate.nextFundingTimeMs,
      fundingAprPct: aprPct,
      netAprPct: aprPct.minus(feeAprPct),
      breakEvenHours: ratePerHour.gt(0) ? roundTrip.div(ratePerHour) : null,
    });
  }
  return rows.sort((a, b) => b.netAprPct.comparedTo(a.netAprPct));
}
