import { Decimal, ZERO } from '../domain/decimal.js';
import { perpAsset, type Coin, type LegKind, type Position, type TradingMode } from '../domain/types.js';
import type { Balances } from '../execution/port.js';
import type { DeltaValidator } from './deltaValidator.js';

/**
 * A leg of a coin where what the venue holds is not what the records account for: the open
 * hedges' legs plus the known extras (spot dust left by closes, holdings an admin accepted).
 */
export interface HoldingDifference {
  mode: TradingMode;
  coin: Coin;
  leg: LegKind;
  /** Spot: coins in the wallet; perp: the short, as a positive quantity (a long shows negative). */
  heldQty: Decimal;
  recordedQty: Decimal;
  /** held − recorded: positive means the venue holds more than the records say. */
  differenceQty: Decimal;
}

/** Holdings the records know of outside any hedge, by coin: spot dust, accepted differences. */
export type HoldingOffsets = Record<Coin, { spot?: Decimal; perp?: Decimal }>;

/** What the account holds of one leg: spot coins, or the perp short as a positive quantity. */
export function heldQty(balances: Balances, coin: Coin, leg: LegKind): Decimal {
  return leg === 'spot' ? (balances.spot.get(coin) ?? ZERO) : (balances.perp.get(perpAsset(coin)) ?? ZERO).neg();
}

/** What the records account for of one leg: the open hedges' legs plus the known offset. */
export function recordedQty(open: readonly Position[], offsets: HoldingOffsets, coin: Coin, leg: LegKind): Decimal {
  const legs = open.filter((p) => p.coin === coin).reduce((sum, p) => sum.plus(leg === 'spot' ? p.spotLeg.qty : p.perpLeg.qty), ZERO);
  return legs.plus(offsets[coin]?.[leg] ?? ZERO);
}

/** The coins worth comparing: every listed coin the account holds on either leg, and every coin the records name. */
export function coinsToCompare(balances: Balances, open: readonly Position[], offsets: HoldingOffsets, listed: (coin: Coin) => boolean): Coin[] {
  const coins = new Set<Coin>();
  for (const [asset, qty] of balances.spot) if (!qty.isZero() && listed(asset)) coins.add(asset);
  for (const [asset, qty] of balances.perp) {
    if (qty.isZero() || !asset.endsWith('-PERP')) continue;
    const coin = asset.slice(0, -'-PERP'.length);
    if (listed(coin)) coins.add(coin);
  }
  for (const p of open) coins.add(p.coin);
  for (const coin of Object.keys(offsets)) coins.add(coin);
  return [...coins].sort();
}

/**
 * Compares one coin's two legs with the records, in both directions (too little and too much).
 * A difference counts when it is beyond the drift tolerance of the larger side and at least one
 * lot step (less than a step can be neither bought nor sold).
 */
export function compareHoldingsOfCoin(args: {
  mode: TradingMode;
  coin: Coin;
  balances: Balances;
  open: readonly Position[];
  offsets: HoldingOffsets;
  validator: DeltaValidator;
  qtyStep: (leg: LegKind) => Decimal;
}): HoldingDifference[] {
  const differences: HoldingDifference[] = [];
  for (const leg of ['spot', 'perp'] as const) {
    const held = heldQty(args.balances, args.coin, leg);
    const recorded = recordedQty(args.open, args.offsets, args.coin, leg);
    const differenceQty = held.minus(recorded);
    if (differenceQty.abs().lt(args.qtyStep(leg))) continue;
    if (args.validator.check(args.coin, Decimal.max(held, ZERO), Decimal.max(recorded, ZERO)).withinTolerance && held.gte(0)) continue;
    differences.push({ mode: args.mode, coin: args.coin, leg, heldQty: held, recordedQty: recorded, differenceQty });
  }
  return differences;
}

/** A stable key of a difference, so the same one is alerted once; a change of either side is a new one. */
export function differenceKey(d: HoldingDifference): string {
  return `${d.mode}:${d.coin}:${d.leg}:${d.heldQty.toString()}:${d.recordedQty.toString()}`;
}

/** Adds `qty` of a leg to a coin's offset (a close's dust, an accepted difference). */
export function addOffset(offsets: HoldingOffsets, coin: Coin, leg: LegKind, qty: Decimal): HoldingOffsets {
  const current = offsets[coin] ?? {};
  const next = (current[leg] ?? ZERO).plus(qty);
  return { ...offsets, [coin]: { ...current, [leg]: next } };
}
