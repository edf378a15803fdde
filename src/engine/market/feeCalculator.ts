import type { Decimal } from '../domain/decimal.js';
import type { Instrument } from '../domain/types.js';
import type { HedgePair } from './instrumentInfo.js';

/** Fees in USD for market (taker) orders; the hedge always crosses the spread. */
export class FeeCalculator {
  /** A loaded pair's fees never change, so its round trip is worked out once. */
  private readonly roundTrips = new WeakMap<HedgePair, Decimal>();
  /** Pairs on the same fee schedule share one round-trip value (the funding ranking groups by it). */
  private readonly bySchedule = new Map<string, Decimal>();

  takerFeeUsd(instrument: Instrument, qty: Decimal, price: Decimal): Decimal {
    return qty.mul(price).mul(instrument.takerFeeRate);
  }

  /**
   * Fee rate of opening and later closing both legs, as a fraction of one leg's notional. Pairs
   * with equal taker fees get the same Decimal object back.
   */
  roundTripRate(pair: HedgePair): Decimal {
    const known = this.roundTrips.get(pair);
    if (known) return known;
    const schedule = `${pair.spot.takerFeeRate.toString()}/${pair.perp.takerFeeRate.toString()}`;
    const rate = this.bySchedule.get(schedule) ?? pair.spot.takerFeeRate.plus(pair.perp.takerFeeRate).mul(2);
    this.bySchedule.set(schedule, rate);
    this.roundTrips.set(pair, rate);
    return rate;
  }
}
