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
  // One walk after a plain parse, not a JSON.parse reviver: the reviver is called back for every
  // value and made reading the ledger and the open positions about twice as slow.
  return revive(JSON.parse(text)) as T;
}

function revive(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (isEncodedDecimal(value)) return new Decimal(value.$d);
  const holder = value as Record<string, unknown>;
  for (const key of Object.keys(holder)) {
    const child = holder[key];
    if (typeof child !== 'object' || child === null) continue;
    const revived = revive(child);
    // defineProperty, as JSON.parse itself does: assigning to a "__proto__" key would set the prototype.
    if (revived !== child) Object.defineProperty(holder, key, { value: revived, writable: true, enumerable: true, configurable: true });
  }
  return holder;
}

function isEncodedDecimal(value: unknown): value is { $d: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === '$d' && typeof (value as { $d: unknown }).$d === 'string';
}
