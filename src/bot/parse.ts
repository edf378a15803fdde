import { Decimal, InvalidInputError } from '../engine/index.js';

const MAX_ECHO = 24;

/** Quotes user text back safely: short, one line, no control characters. */
export function echo(text: string): string {
  const clean = [...text.replace(/[\p{Cc}\p{Cf}]/gu, '')].slice(0, MAX_ECHO).join('');
  return clean.length < text.length ? `${clean}…` : clean;
}

/** A USD amount as people type it: digits, optional cents, optional thousands commas. */
export function parseUsdAmount(text: string | undefined, usage: string): Decimal {
  if (text === undefined || text === '') throw new InvalidInputError(`missing the USD amount per leg. Usage: ${usage}`);
  const normalised = text.replace(/,/g, '').replace(/^\$/, '').replace(/(usd|usdt)$/i, '');
  if (/^-/.test(normalised)) throw new InvalidInputError(`the amount must be positive, got "${echo(text)}". Usage: ${usage}`);
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(normalised)) {
    throw new InvalidInputError(`"${echo(text)}" is not an amount; type plain USD such as 1000 or 250.50 (at most 12 digits). Usage: ${usage}`);
  }
  const amount = new Decimal(normalised);
  if (amount.isZero()) throw new InvalidInputError(`the amount must be more than 0. Usage: ${usage}`);
  return amount;
}

export function parseCount(text: string | undefined, fallback: number, max: number, usage: string): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new InvalidInputError(`"${echo(text)}" is not a count from 1 to ${max}. Usage: ${usage}`);
  }
  return Number(text);
}
