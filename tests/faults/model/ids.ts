/**
 * Deterministic stand-in for crypto.randomBytes (operation and position ids), reset before every
 * run: a replayed run must make the same ids, or the stores' tie-breaking orders (and with them
 * the scheduler's choices) would differ between a failure and its replay.
 */
let counter = 0;

export function resetIds(): void {
  counter = 0;
}

export function deterministicBytes(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let value = ++counter;
  for (let i = length - 1; i >= 0; i -= 1) {
    bytes[i] = value % 36;
    value = Math.floor(value / 36);
  }
  return bytes;
}
