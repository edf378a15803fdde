import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

function randomAlnum(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** Operation ids are short, lower-case alphanumerics so every venue accepts ids derived from them. */
export function newOperationId(nowMs: number): string {
  return `op${nowMs.toString(36)}${randomAlnum(6)}`;
}

/** A step's own id: a writer knows its own step from another's with the same time and note. */
export function newStepId(): string {
  return randomAlnum(8);
}

export function newPositionId(nowMs: number): string {
  return `p${nowMs.toString(36).slice(-5)}${randomAlnum(3)}`;
}

/** The purpose of an order within an operation; part of its client order id. */
export type OrderPurpose = 'spot' | 'perp' | 'spotfix' | 'perpfix' | 'spotundo' | 'perpundo' | 'spotlate' | 'perplate';

const PURPOSE_CODE: Record<OrderPurpose, string> = {
  spot: 's',
  perp: 'p',
  spotfix: 'sf',
  perpfix: 'pf',
  spotundo: 'su',
  perpundo: 'pu',
  spotlate: 'sl',
  perplate: 'pl',
};

/** Every purpose an order of an operation can have. */
export const ORDER_PURPOSES = Object.keys(PURPOSE_CODE) as OrderPurpose[];

/** Deterministic: the same operation and purpose always give the same client order id. */
export function clientOrderId(operationId: string, purpose: OrderPurpose): string {
  return `${operationId}${PURPOSE_CODE[purpose]}`;
}
