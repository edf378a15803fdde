import { ZERO, type Decimal } from '../../../src/engine/domain/decimal.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import { ORDER_PURPOSES, clientOrderId } from '../../../src/engine/domain/ids.js';
import type { VenueFill } from './venue.js';

/** Client order id codes after the operation id (src/engine/domain/ids.ts). */
const PURPOSE_CODES = new Set(ORDER_PURPOSES.map((purpose) => clientOrderId('', purpose)));

export function belongsTo(clientOrderId: string, operationId: string): boolean {
  // A recovery round's orders carry `r<round>` between the operation id and the purpose code.
  return clientOrderId.startsWith(operationId) && PURPOSE_CODES.has(clientOrderId.slice(operationId.length).replace(/^r\d+/, ''));
}

/** Spot bought minus sold, and perp sold minus bought (the short), by the given orders. */
export interface Net {
  spot: Decimal;
  perp: Decimal;
  /** USDT the orders moved: sales in, purchases out, fees out. */
  cashUsd: Decimal;
}

export function netOf(fills: readonly VenueFill[], coin: string, include: (clientOrderId: string) => boolean): Net {
  let spot = ZERO;
  let perp = ZERO;
  let cashUsd = ZERO;
  for (const f of fills) {
    if (f.coin !== coin || !include(f.clientOrderId)) continue;
    const bought = f.side === 'buy' ? f.qty : f.qty.neg();
    if (f.kind === 'spot') spot = spot.plus(bought);
    else perp = perp.minus(bought);
    cashUsd = cashUsd.minus(bought.mul(f.price)).minus(f.feeUsd);
  }
  return { spot, perp, cashUsd };
}

export function netOfOperations(fills: readonly VenueFill[], coin: string, operationIds: readonly string[]): Net {
  return netOf(fills, coin, (cid) => operationIds.some((id) => belongsTo(cid, id)));
}

/** Quantities closer than one lot step are the same holding (dust under a step cannot be traded). */
export function sameQty(a: Decimal, b: Decimal, step: Decimal): boolean {
  return a.minus(b).abs().lt(step);
}

/** The event as the team reads it: its fields as text, Decimals as their digits. */
export function eventText(event: EngineEvent): string {
  return JSON.stringify(event);
}

/** True when the text names the coin and one of the quantities (as a number of its own, sign aside). */
export function namesDifference(text: string, coin: string, quantities: readonly Decimal[]): boolean {
  if (!new RegExp(`\\b${coin}\\b`).test(text)) return false;
  return quantities.some((q) => {
    const digits = q.abs().toString().replace('.', '\\.');
    return new RegExp(`(?<![\\d.])${digits}(?![\\d])`).test(text);
  });
}

export const fmt = (d: Decimal): string => d.toString();
