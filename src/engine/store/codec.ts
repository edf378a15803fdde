import { Decimal } from '../domain/decimal.js';

/**
 * JSON for stored records. Every Decimal is written as `{"$d":"<digits>"}` and read back as a
 * Decimal, so amounts survive a round trip digit for digit and never pass through a float.
 */
export function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, current: unknown) {
    // Decimal#toJSON has already turned `current` into a plain string; the holder still has the Decimal.
    const raw = this[key];
    // valueOf, unlike toString, keeps the sign of -0.
    return Decimal.isDecimal(raw) ? { $d: raw.valueOf() } : current;
  });
}

export function decode<T>(text: string): T {
  return JSON.parse(text, (_key, value: unknown) => (isEncodedDecimal(value) ? new Decimal(value.$d) : value)) as T;
}

function isEncodedDecimal(value: unknown): value is { $d: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === '$d' && typeof (value as { $d: unknown }).$d === 'string';
}
