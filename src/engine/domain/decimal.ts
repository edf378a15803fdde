import { Decimal } from 'decimal.js';

// One configuration for every amount in the program: 40 significant digits is far beyond any
// venue's precision, and exponent notation is disabled in toString so amounts never print as 1e-7.
Decimal.set({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -40, toExpPos: 40 });

export { Decimal };
export type DecimalValue = Decimal;

export const ZERO = new Decimal(0);
export const ONE = new Decimal(1);
export const BPS = new Decimal(10_000);

/** Parses a decimal string coming from outside (venue, store, config). Throws on garbage. */
export function dec(value: string | Decimal): Decimal {
  return value instanceof Decimal ? value : new Decimal(value);
}

/** Rounds `qty` down to a whole multiple of `step` (steps are positive). */
export function floorToStep(qty: Decimal, step: Decimal): Decimal {
  return qty.div(step).floor().mul(step);
}

/** Least common multiple of two positive decimal steps, e.g. (0.001, 0.005) → 0.005. */
export function lcmStep(a: Decimal, b: Decimal): Decimal {
  const scale = new Decimal(10).pow(Math.max(a.decimalPlaces(), b.decimalPlaces()));
  let x = a.mul(scale);
  let y = b.mul(scale);
  const product = x.mul(y);
  while (!y.isZero()) {
    const t = y;
    y = x.mod(y);
    x = t;
  }
  return product.div(x).div(scale);
}
