import { Decimal, floorToStep, lcmStep } from '../domain/decimal.js';
import { InsufficientSizeError } from '../domain/errors.js';
import type { Instrument } from '../domain/types.js';
import type { HedgePair } from '../market/instrumentInfo.js';

/**
 * Picks one quantity that both legs accept: a multiple of both lot steps, at least both minimum
 * quantities and minimum notionals, at most both maximum quantities. Anything else is refused
 * before an order is sent.
 */
export class PositionSizer {
  size(pair: HedgePair, notionalUsd: Decimal, spotPrice: Decimal, perpPrice: Decimal): Decimal {
    const step = lcmStep(pair.spot.qtyStep, pair.perp.qtyStep);
    // Size on the dearer leg, so neither leg exceeds the notional asked for.
    const price = Decimal.max(spotPrice, perpPrice);
    const qty = floorToStep(notionalUsd.div(price), step);
    const minUsd = this.minNotionalUsd(pair, spotPrice, perpPrice);
    if (qty.isZero() || qty.lt(pair.spot.minQty) || qty.lt(pair.perp.minQty)) {
      throw new InsufficientSizeError(
        `${notionalUsd.toString()} USD is too small for ${pair.coin}: both legs must trade a multiple of ${step.toString()} ${pair.coin}; the smallest hedge is about ${minUsd.toString()} USD per leg`,
      );
    }
    for (const [leg, legPrice] of [[pair.spot, spotPrice], [pair.perp, perpPrice]] as const) {
      if (qty.mul(legPrice).lt(leg.minNotionalUsd)) {
        throw new InsufficientSizeError(
          `${notionalUsd.toString()} USD is too small for ${pair.coin}: the ${leg.kind} market needs at least ${leg.minNotionalUsd.toString()} USD per order; the smallest hedge is about ${minUsd.toString()} USD per leg`,
        );
      }
      if (qty.gt(leg.maxQty)) {
        throw new InsufficientSizeError(
          `${qty.toString()} ${pair.coin} is above the ${leg.kind} market's maximum order of ${leg.maxQty.toString()} ${pair.coin}`,
        );
      }
    }
    return qty;
  }

  /** Smallest per-leg notional that passes every rule of both legs, rounded up to whole USD. */
  minNotionalUsd(pair: HedgePair, spotPrice: Decimal, perpPrice: Decimal): Decimal {
    const step = lcmStep(pair.spot.qtyStep, pair.perp.qtyStep);
    const price = Decimal.max(spotPrice, perpPrice);
    const legMinQty = (leg: Instrument, legPrice: Decimal): Decimal =>
      Decimal.max(leg.minQty, leg.minNotionalUsd.div(legPrice));
    const minQty = Decimal.max(legMinQty(pair.spot, spotPrice), legMinQty(pair.perp, perpPrice));
    const qty = minQty.div(step).ceil().mul(step);
    return qty.mul(price).ceil();
  }
}
