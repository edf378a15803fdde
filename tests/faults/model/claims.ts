import { ZERO, type Decimal } from '../../../src/engine/domain/decimal.js';
import type { Operation, Position, TradingMode } from '../../../src/engine/domain/types.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import type { RiskLimits } from '../../../src/engine/risk/riskManager.js';
import { belongsTo, fmt, netOf, netOfOperations, sameQty, type Net } from './accounting.js';
import type { Journal, SeenEvent } from './journal.js';
import type { ModelVenue } from './venue.js';

export interface ClaimContext {
  journal: Journal;
  venue: ModelVenue;
  limits: RiskLimits;
}

/**
 * What an event tells the team about the holdings, read the way a person reads it:
 * `flat` (nothing left of these operations), `holds` (these operations hold the position's legs),
 * `alert` (something is wrong, act), or nothing about holdings.
 */
export type Claim =
  | { kind: 'flat'; coin: string; mode: TradingMode; operationIds: string[] }
  | { kind: 'holds'; coin: string; mode: TradingMode; operationIds: string[]; position: Position }
  | { kind: 'alert' }
  | { kind: 'none' };

/** The operations that built and closed a position: its open and every close that named it. */
export function positionOperations(journal: Journal, position: Pick<Position, 'id' | 'openOperationId'>): string[] {
  const closes = [...journal.operations.values()].filter((op) => op.kind === 'close' && op.positionId === position.id).map((op) => op.id);
  return [position.openOperationId, ...closes];
}

/** "Nothing is left": of the position a close names (all its operations), else of the operation's own orders. */
function flatOf(journal: Journal, op: Operation): Claim {
  const position = op.kind === 'close' && op.positionId ? journal.positions.get(op.positionId) : undefined;
  return { kind: 'flat', coin: op.coin, mode: op.mode, operationIds: position ? positionOperations(journal, position) : [op.id] };
}

/** "Nothing was placed, or all of it was undone": of the operation's own orders. */
function ownFlat(op: Operation): Claim {
  return { kind: 'flat', coin: op.coin, mode: op.mode, operationIds: [op.id] };
}

export function claimOf(journal: Journal, event: EngineEvent): Claim {
  switch (event.type) {
    case 'opened':
      return { kind: 'holds', coin: event.position.coin, mode: event.position.mode, operationIds: [event.operation.id], position: event.position };
    case 'closed':
      return { kind: 'flat', coin: event.position.coin, mode: event.position.mode, operationIds: positionOperations(journal, event.position) };
    case 'rollback':
      return event.reversalError ? { kind: 'alert' } : flatOf(journal, event.operation);
    case 'drift':
      if (!event.action.startsWith('both legs closed')) return { kind: 'alert' };
      return event.operation ? flatOf(journal, event.operation) : { kind: 'alert' };
    case 'error':
      return event.operation && event.message.includes('both legs closed') ? flatOf(journal, event.operation) : { kind: 'alert' };
    case 'recovery':
      return recoveryClaim(journal, event.operation, event.outcome);
    case 'late_fill':
      return event.reversalError ? { kind: 'alert' } : { kind: 'none' };
    case 'reconcile':
    case 'unresolved':
      return { kind: 'alert' };
    default:
      return { kind: 'none' };
  }
}

/** Recovery outcomes are sentences (PositionManager.recover); read them as the team would. */
function recoveryClaim(journal: Journal, op: Operation, outcome: string): Claim {
  if (outcome.startsWith('recovery failed')) return { kind: 'alert' };
  if (/^(half a hedge was found|no leg had filled|interrupted before any order|preview expired)/.test(outcome)) return ownFlat(op);
  if (outcome.startsWith('close finished')) return flatOf(journal, op);
  const position = op.positionId ? journal.positions.get(op.positionId) : undefined;
  if (outcome.startsWith('both legs had filled') && position) return { kind: 'holds', coin: op.coin, mode: op.mode, operationIds: [op.id], position };
  return { kind: 'none' };
}

/**
 * Checks one event at the moment it is emitted, against the venue as it is then: every message
 * says what really happened.
 */
export function checkEvent(ctx: ClaimContext, seen: SeenEvent): void {
  const { journal, venue } = ctx;
  const { event } = seen;
  const claim = claimOf(journal, event);
  const fills = journal.fillsOf(claim.kind === 'flat' || claim.kind === 'holds' ? claim.mode : 'live', venue.fills);
  const say = (what: string): void => journal.violation(`${seen.process} said "${event.type}" (${describeEvent(event)}) but ${what}`);
  if (claim.kind === 'flat' || claim.kind === 'holds') {
    const net = netOfOperations(fills, claim.coin, claim.operationIds);
    const wanted = claim.kind === 'holds' ? { spot: claim.position.spotLeg.qty, perp: claim.position.perpLeg.qty } : { spot: ZERO, perp: ZERO };
    if (!matches(ctx, claim.coin, net, wanted)) {
      say(`${claim.operationIds.join('+')} hold spot ${fmt(net.spot)}, perp short ${fmt(net.perp)} of ${claim.coin} at the ${claim.mode === 'live' ? 'venue' : 'paper ledger'} (expected spot ${fmt(wanted.spot)}, perp ${fmt(wanted.perp)})`);
    } else if (event.type === 'closed' && event.position.realisedPnlUsd) {
      // The hedge's orders really moved `cashUsd`; that is its realised PnL (no funding here).
      const realised = event.position.realisedPnlUsd;
      if (realised.minus(net.cashUsd).abs().gt('0.000001')) say(`its orders moved ${net.cashUsd.toFixed(6)} USD, not the realised ${realised.toFixed(6)} USD`);
    }
  }
  if (event.type === 'late_fill' && !event.reversalError) {
    const kindCode = event.fill.kind === 'spot' ? 'sl' : 'pl';
    const net = netOf(fills, event.fill.coin, (cid) => cid === event.fill.clientOrderId || cid === `${event.operationId}${kindCode}`);
    if (!matches(ctx, event.fill.coin, net, { spot: ZERO, perp: ZERO })) say(`the late fill and its undo net to spot ${fmt(net.spot)}, perp ${fmt(net.perp)}`);
  }
  if (event.type === 'opened') checkLimits(ctx, say);
}

function matches(ctx: ClaimContext, coin: string, net: Net, wanted: { spot: Decimal; perp: Decimal }): boolean {
  const step = (kind: 'spot' | 'perp'): Decimal => ctx.venue.instrument(kind === 'spot' ? `${coin}/USDT` : `${coin}/USDT:USDT`).qtyStep;
  return sameQty(net.spot, wanted.spot, step('spot')) && sameQty(net.perp, wanted.perp, step('perp'));
}

/** An open that succeeded never pushed the open hedges above the limits. */
function checkLimits(ctx: ClaimContext, say: (what: string) => void): void {
  const open = [...ctx.journal.positions.values()].filter((p) => p.status === 'open');
  if (open.length > ctx.limits.maxOpenPositions) say(`${open.length} hedges are open (${open.map((p) => p.coin).join(', ')}), the limit is ${ctx.limits.maxOpenPositions}`);
  const exposure = open.reduce((sum, p) => sum.plus(p.perpLeg.qty.mul(ctx.venue.tickers([p.perpLeg.symbol])[0]?.last ?? p.perpLeg.entryPrice)), ZERO);
  if (exposure.gt(ctx.limits.maxTotalExposureUsd)) say(`total exposure is ${exposure.toFixed(2)} USD, the limit is ${ctx.limits.maxTotalExposureUsd.toString()} USD`);
}

/** One line about an event, for violations and the story of a run. */
export function describeEvent(event: EngineEvent): string {
  switch (event.type) {
    case 'opened':
    case 'closed':
      return `${event.position.coin} ${event.position.id} spot ${fmt(event.position.spotLeg.qty)} perp ${fmt(event.position.perpLeg.qty)}`;
    case 'rollback':
      return `${event.operation.coin} ${event.operation.id}: ${event.failedLeg} leg failed (${event.failure})`;
    case 'drift':
      return `${event.delta.coin}: ${event.action}`;
    case 'recovery':
      return `${event.operation.id}: ${event.outcome}`;
    case 'error':
      return event.message;
    case 'reconcile':
      return event.differences.map((d) => `${d.mode} ${d.coin} ${d.leg} held ${fmt(d.heldQty)} recorded ${fmt(d.recordedQty)}`).join('; ');
    case 'unresolved':
      return `${event.operation.coin} ${event.operation.id}: unknown ${event.orders.map((o) => o.request.clientOrderId).join(', ')}`;
    case 'late_fill':
      return `${event.fill.clientOrderId} ${event.fill.side} ${fmt(event.fill.filledQty)}${event.reversalError ? `; undo failed: ${event.reversalError}` : '; undone'}`;
    default:
      return event.type;
  }
}

/** Client order ids of an operation that filled, for the Cancel rule. */
export function filledIdsOf(fills: readonly { clientOrderId: string }[], operationId: string): string[] {
  return fills.filter((f) => belongsTo(f.clientOrderId, operationId)).map((f) => f.clientOrderId);
}
