import { BPS, Decimal, ZERO } from '../domain/decimal.js';
import type { Coin, DeltaStatus } from '../domain/types.js';

/** Compares the long spot quantity with the short perp quantity of one hedge. */
export class DeltaValidator {
  constructor(private readonly toleranceBps: Decimal) {}

  check(coin: Coin, spotQty: Decimal, perpQty: Decimal): DeltaStatus {
    const driftQty = spotQty.minus(perpQty).abs();
    const larger = Decimal.max(spotQty, perpQty);
    const driftBps = larger.isZero() ? ZERO : driftQty.div(larger).mul(BPS);
    return {
      coin,
      spotQty,
      perpQty,
      driftQty,
      driftBps,
      toleranceBps: this.toleranceBps,
      withinTolerance: driftBps.lte(this.toleranceBps),
    };
  }
}
