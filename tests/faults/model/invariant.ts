import { ZERO, type Decimal } from '../../../src/engine/domain/decimal.js';
import { perpAsset, type LedgerEntry, type Position, type TradingMode } from '../../../src/engine/domain/types.js';
import { sumLedger } from '../../../src/engine/execution/paperExecutor.js';
import type { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { eventText, fmt, namesDifference, sameQty } from './accounting.js';
import { claimOf, filledIdsOf } from './claims.js';
import type { Journal } from './journal.js';
import type { ModelVenue, VenueFill } from './venue.js';

export interface InvariantContext {
  journal: Journal;
  venue: ModelVenue;
  store: MemoryStore;
  coins: readonly string[];
}

const MODES: readonly TradingMode[] = ['live', 'paper'];

/** Checks the settled run (see the invariant at the top of model.faults.test.ts); violations go to the journal. */
export async function checkInvariant(ctx: InvariantContext): Promise<void> {
  const ledger = await ctx.store.listLedger();
  const positions = await ctx.store.listPositions();
  const open = await ctx.store.listOpenPositions();
  for (const mode of MODES) {
    for (const coin of ctx.coins) checkHoldings(ctx, mode, coin, open, positions, ledger);
    checkFilledOnce(ctx, mode);
  }
  checkLiveLedger(ctx, ledger);
  checkPaperLedger(ctx, ledger);
  checkCancels(ctx);
}

/** What the venue (live) or the paper ledger holds equals the records, or a loud alert came after the last change. */
function checkHoldings(ctx: InvariantContext, mode: TradingMode, coin: string, open: readonly Position[], positions: readonly Position[], ledger: readonly LedgerEntry[]): void {
  const mine = (p: Position): boolean => p.mode === mode && p.coin === coin;
  const recorded = {
    spot: open.filter(mine).reduce((sum, p) => sum.plus(p.spotLeg.qty), ZERO).plus(positions.filter((p) => mine(p) && p.status === 'closed').reduce((sum, p) => sum.plus(p.spotDustQty ?? ZERO), ZERO)),
    perp: open.filter(mine).reduce((sum, p) => sum.plus(p.perpLeg.qty), ZERO),
  };
  const held = mode === 'live' ? ctx.venue.holdings(coin) : paperHoldings(ledger, coin);
  const where = mode === 'live' ? 'the venue holds' : 'the paper ledger holds';
  for (const leg of ['spot', 'perp'] as const) {
    const step = ctx.venue.instrument(leg === 'spot' ? `${coin}/USDT` : `${coin}/USDT:USDT`).qtyStep;
    if (sameQty(held[leg], recorded[leg], step)) continue;
    const difference = held[leg].minus(recorded[leg]);
    const after = ctx.journal.lastChangeOf(mode, coin, leg);
    const alerted = ctx.journal.events.some(
      (e) => e.seq > after && e.event.critical && claimOf(ctx.journal, e.event).kind === 'alert' && namesDifference(eventText(e.event), coin, [difference, held[leg]]),
    );
    if (!alerted) {
      ctx.journal.violation(
        `${mode} ${coin} ${leg}: ${where} ${fmt(held[leg])}${leg === 'perp' ? ' short' : ''}, the records say ${fmt(recorded[leg])}, and no critical alert naming ${coin} and ${fmt(difference.abs())} came after the last change`,
      );
    }
  }
}

function paperHoldings(ledger: readonly LedgerEntry[], coin: string): { spot: Decimal; perp: Decimal } {
  const balances = sumLedger(ledger, 'paper');
  return { spot: balances.spot.get(coin) ?? ZERO, perp: (balances.perp.get(perpAsset(coin)) ?? ZERO).neg() };
}

function checkFilledOnce(ctx: InvariantContext, mode: TradingMode): void {
  const fills = ctx.journal.fillsOf(mode, ctx.venue.fills);
  const seen = new Map<string, VenueFill[]>();
  for (const f of fills) seen.set(f.clientOrderId, [...(seen.get(f.clientOrderId) ?? []), f]);
  for (const [clientOrderId, list] of seen) {
    if (list.length > 1) ctx.journal.violation(`${mode}: client order id ${clientOrderId} filled ${list.length} times (${list.map((f) => `${f.side} ${fmt(f.qty)}`).join(', ')})`);
  }
}

/** Every live fill recorded once: the live ledger's coin legs equal what the venue holds. */
function checkLiveLedger(ctx: InvariantContext, ledger: readonly LedgerEntry[]): void {
  const booked = sumLedger(ledger, 'live');
  for (const coin of ctx.coins) {
    const held = ctx.venue.holdings(coin);
    const spot = booked.spot.get(coin) ?? ZERO;
    const perp = (booked.perp.get(perpAsset(coin)) ?? ZERO).neg();
    if (!spot.eq(held.spot)) ctx.journal.violation(`live ledger: spot ${coin} sums to ${fmt(spot)}, the venue holds ${fmt(held.spot)}`);
    if (!perp.eq(held.perp)) ctx.journal.violation(`live ledger: ${coin} perp short sums to ${fmt(perp)}, the venue holds ${fmt(held.perp)}`);
  }
}

/** Paper balances are the ledger by construction; what can go wrong is a fill booked twice. */
function checkPaperLedger(ctx: InvariantContext, ledger: readonly LedgerEntry[]): void {
  const trades = new Map<string, number>();
  for (const e of ledger) {
    if (e.mode !== 'paper' || e.kind !== 'trade') continue;
    const key = `${e.ref} ${e.account} ${e.asset}`;
    trades.set(key, (trades.get(key) ?? 0) + 1);
  }
  for (const [key, count] of trades) if (count > 1) ctx.journal.violation(`paper ledger: ${key} booked ${count} times`);
}

/** A Cancel that answered "cancelled" placed nothing, ever. */
function checkCancels(ctx: InvariantContext): void {
  for (const operationId of ctx.journal.cancelled) {
    const filled = [...filledIdsOf(ctx.venue.fills, operationId), ...filledIdsOf(ctx.journal.paperFills, operationId)];
    if (filled.length > 0) ctx.journal.violation(`Cancel of ${operationId} answered "cancelled, nothing was placed", but ${filled.join(', ')} filled`);
  }
}


/** The invariant every generated run is checked against, in words (docs/RELIABILITY.md prints it), a paragraph a line. */
export const INVARIANT: readonly string[] = [
  "Checked after every run once it is settled (faults off, every pending call let through, the clock moved past every timeout, every late or stale order filled, dead processes replaced and recovered, then one delta check and one reconciliation):",
  "1. For every coin and mode, what is held — at the venue for live (spot coin balance, perp position), in the paper ledger for paper — equals what the records say (the open positions' legs, plus dust the closed ones left), or a critical alert naming that coin and the differing quantity was emitted after the last change to that leg's holdings or records. Alerts that say \"all is well\" (a rollback, drift close or recovery that reports itself done) do not count, nor does anything a dead process said.",
  "2. No client order id filled twice.",
  "3. Live: the live ledger summed per coin leg equals what the venue holds (every fill recorded once). Paper: no fill booked twice (positions against the ledger is rule 1).",
  "4. Every message says what really happened, checked the moment it is emitted against the venue as it is then: `opened` — the operation's fills hold exactly the position's legs; `closed` — the position's operations left nothing of the coin (under one lot step), and the realised PnL is the cash those orders moved; a rollback, drift close or recovery that reports success — its operations left nothing; a late-fill undo that reports success — it undid the late fill; an open that succeeded kept the open hedges within maxOpenPositions and maxTotalExposureUsd.",
  "5. A Cancel that resolved without error: no order of that operation ever filled.",
  "6. An open's legs go out only in the mode that is current when they go out (a preview made before a mode switch never trades in the old mode).",
  "7. Work started on a process that stayed alive finished.",
];
