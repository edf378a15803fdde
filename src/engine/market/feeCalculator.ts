import { Decimal } from '../domain/decimal.js';
import type { Instrument } from '../domain/types.js';
import type { HedgePair } from './instrumentInfo.js';

/** Fees in USD for market (taker) orders; the hedge always crosses the spread. */
export class FeeCalculator {
  takerFeeUsd(instrument: Instrument, qty: Decimal, price: Decimal): Decimal {
    return qty.mul(price).mul(instrument.takerFeeRate);
  }

  /** Fee rate of opening and later closing both legs, as a fraction of one leg's notional. */
  roundTripRate(pair: HedgePair): Decimal {
    return pair.spot.takerFeeRate.plus(pair.perp.takerFeeRate).mul(2);
  }
}
