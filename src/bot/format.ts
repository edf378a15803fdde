import { Decimal } from '../engine/index.js';
import type {
  AuditEntry,
  ClosePreview,
  PnlReport,
  EngineEvent,
  FundingComparison,
  FundingOpportunity,
  HoldingDifference,
  LegQuote,
  OpenPreview,
  Operation,
  OrderResult,
  StatusReport,
} from '../engine/index.js';

/** USD with thousands separators and 2 decimals (or more, for cents' fractions), sign kept: 1,234.50 / -0.75. */
export function usd(value: Decimal, decimals = 2): string {
  const fixed = value.toFixed(decimals);
  const [whole = '0', cents = ''] = fixed.replace('-', '').split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const negative = value.isNegative() && !new Decimal(fixed).isZero();
  return `${negative ? '-' : ''}${grouped}.${cents}`;
}

export function signedUsd(value: Decimal, decimals = 2): string {
  return value.gte(0) ? `+${usd(value, decimals)}` : usd(value, decimals);
}

/** A time as `2026-01-01 08:00` (UTC). */
function utc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** A price with enough significant digits for any coin, from BTC to PEPE. */
export function price(value: Decimal): string {
  if (value.gte(1000)) return usd(value);
  return value.toSignificantDigits(6).toString();
}

export function pct(value: Decimal, decimals = 2): string {
  return `${value.toFixed(decimals)}%`;
}

function who(op: Operation): string {
  return `asked by ${op.requestedBy.name}, op ${op.id}`;
}

function legLine(leg: LegQuote): string {
  const side = leg.side === 'buy' ? 'BUY ' : 'SELL';
  return `  ${leg.kind.padEnd(4)} ${side} ${leg.qty.toString()} @ ~${price(leg.price)} = ${usd(leg.notionalUsd)} USD, fee ${usd(leg.feeUsd)}`;
}

export function formatOpenPreview(preview: OpenPreview, ttlSeconds: number): string {
  const { operation, funding } = preview;
  const lines = [
    `Open ${operation.coin} hedge, ${operation.mode.toUpperCase()} (${who(operation)})`,
    legLine(preview.spot),
    legLine(preview.perp),
    `  fees ${usd(preview.feesUsd)} USD`,
  ];
  if (funding) {
    const breakEven = funding.breakEvenHours ? `${funding.breakEvenHours.toFixed(1)} h` : 'never at this rate';
    lines.push(
      `  funding ${pct(funding.rate.mul(100), 4)}/${funding.intervalHours}h = ${pct(funding.fundingAprPct)} APR, net ${pct(funding.netAprPct)}, break-even ${breakEven}`,
    );
  }
  lines.push(`Confirm within ${ttlSeconds} s; prices are re-checked on confirm.`);
  return lines.join('\n');
}

export function formatClosePreview(preview: ClosePreview, ttlSeconds: number): string {
  const { operation, position } = preview;
  return [
    `Close ${position.coin} hedge ${position.id}, ${position.mode.toUpperCase()} (${who(operation)})`,
    legLine(preview.spot),
    legLine(preview.perp),
    `  exit fees ${usd(preview.feesUsd)} USD, funding earned ${signedUsd(preview.fundingEarnedUsd)} USD`,
    `  expected PnL ${signedUsd(preview.expectedPnlUsd)} USD (after all fees, with funding)`,
    `Confirm within ${ttlSeconds} s; prices are re-checked on confirm.`,
  ].join('\n');
}

export function formatStatus(report: StatusReport): string {
  const lines = [
    `Mode ${report.mode.toUpperCase()}${report.liveConfigured ? '' : ' (live not configured)'}`,
    report.sharedQuote
      ? `One USDT wallet for both legs (unified account): ${usd(report.spotUsdt)} USDT spendable · equity ${usd(report.perpEquityUsd)} USDT · exposure ${usd(report.totalExposureUsd)} USD`
      : `Spot ${usd(report.spotUsdt)} USDT · perp equity ${usd(report.perpEquityUsd)} USDT · exposure ${usd(report.totalExposureUsd)} USD`,
  ];
  const haltedCoins = [...new Set(report.halted.map((d) => d.coin))];
  if (haltedCoins.length > 0) lines.push(`⛔ New opens of ${haltedCoins.join(', ')} wait until the venue matches the records, or an admin checks it and sends /resume`);
  if (report.unfinishedOperations > 0) lines.push(`${report.unfinishedOperations} operation(s) awaiting confirmation or in progress`);
  if (report.positions.length === 0) lines.push('No open hedges. Open one with /open <COIN> <USD per leg>.');
  for (const view of report.positions) {
    const p = view.position;
    const mark = (m: Decimal | null): string => (m ? price(m) : 'stale');
    const otherMode = p.mode === report.mode ? '' : ` · ${p.mode.toUpperCase()} mode hedge`;
    lines.push(
      '',
      `${p.coin} ${p.id}${otherMode} · opened ${utc(p.openedAtMs)} UTC by ${p.openedBy}`,
      `  spot +${p.spotLeg.qty.toString()} @ ${price(p.spotLeg.entryPrice)} · mark ${mark(view.spotMark)}`,
      `  perp -${p.perpLeg.qty.toString()} @ ${price(p.perpLeg.entryPrice)} · mark ${mark(view.perpMark)}`,
      `  liq ${view.liquidationSource === 'venue' ? '' : '~'}${price(view.liquidationPrice)}${view.liquidationDistancePct ? ` (+${view.liquidationDistancePct.toFixed(1)}%)` : ''} ${view.liquidationSource === 'venue' ? '(venue)' : 'est.'}`,
      `  drift ${view.delta.driftBps.toFixed(1)} bps · fees ${usd(p.spotLeg.entryFeeUsd.plus(p.perpLeg.entryFeeUsd))} · funding ${signedUsd(view.fundingEarnedUsd)} · uPnL ${view.unrealisedPnlUsd ? signedUsd(view.unrealisedPnlUsd) : 'n/a (stale price)'} USD`,
    );
    if (view.venueFunding) {
      const since = view.venueFunding.sinceMs === null ? '' : ` from ${utc(view.venueFunding.sinceMs)}`;
      lines.push(`  venue-paid funding ${signedUsd(view.venueFunding.paidUsd)} USD${since} to ${utc(view.venueFunding.throughMs)} UTC`);
    }
  }
  if (report.unaccounted.length > 0) {
    lines.push('', '⚠️ Held at the venue, not accounted for by any hedge:', ...report.unaccounted.map((d) => `  ${differenceLine(d)}`));
  }
  return lines.join('\n');
}

/** The answer to /resume: what was accepted as held outside the hedges, by whom. */
export function formatResumed(accepted: readonly HoldingDifference[], by: string): string {
  if (accepted.length === 0) return 'Nothing is halted: the venue matches the records; nothing to resume.';
  return [
    `Accepted by ${by} as held outside the hedges; opens of ${[...new Set(accepted.map((d) => d.coin))].join(', ')} are allowed again:`,
    ...accepted.map((d) => `  ${differenceLine(d)}`),
  ].join('\n');
}

/** One leg that differs from the records: which, how much either way, and in which mode. */
function differenceLine(d: HoldingDifference): string {
  const unit = d.leg === 'spot' ? `${d.coin} in the spot wallet` : `${d.coin} perp short`;
  const more = d.differenceQty.gt(0);
  return `${d.coin} ${d.leg} (${d.mode.toUpperCase()}): holds ${d.heldQty.toString()} ${unit}, the records ${d.recordedQty.toString()} → ${more ? `${d.differenceQty.toString()} more` : `${d.differenceQty.neg().toString()} less`} than recorded`;
}

export function formatFunding(rows: readonly FundingOpportunity[], holdDays: number): string {
  if (rows.length === 0) return 'No funding data yet; try again in a minute.';
  const header = `Top ${rows.length} by funding APR net of fees (round trip over ${holdDays} d)`;
  const table = rows.map((r, i) => {
    const breakEven = r.breakEvenHours ? `${r.breakEvenHours.toFixed(1)}h` : '-';
    return `${String(i + 1).padStart(2)}. ${r.coin.padEnd(5)} ${pct(r.netAprPct, 1).padStart(7)} net ${pct(r.fundingAprPct, 1).padStart(7)} gross  every ${String(r.intervalHours).padStart(1)}h  b/e ${breakEven}`;
  });
  return [header, ...table].join('\n');
}

function fillLine(fill: OrderResult): string {
  return `${fill.kind} ${fill.side.toUpperCase()} ${fill.filledQty.toString()} ${fill.coin} @ ${price(fill.avgPrice)} (fee ${usd(fill.feeUsd)})`;
}

/** One alert per engine event; critical ones start with a marker people notice on a phone. */
export function formatEvent(event: EngineEvent): string {
  switch (event.type) {
    case 'opened': {
      const p = event.position;
      return `✅ FILLED ${p.coin} hedge ${p.id} (${who(event.operation)})\n  ${fillLine(event.spot)}\n  ${fillLine(event.perp)}\n  drift ${driftOf(p.spotLeg.qty, p.perpLeg.qty)} bps`;
    }
    case 'closed': {
      const p = event.position;
      const dust = p.spotDustQty ? `\n  ${p.spotDustQty.toString()} ${p.coin} stays in spot as dust (less than one lot step, which the venue cannot sell)` : '';
      return `☑️ CLOSED ${p.coin} hedge ${p.id} (${who(event.operation)})\n  exit spot ${price(p.exitSpotPrice ?? new Decimal(0))}, perp ${price(p.exitPerpPrice ?? new Decimal(0))}, exit fees ${usd(p.exitFeesUsd ?? new Decimal(0))} USD\n  realised PnL ${signedUsd(p.realisedPnlUsd ?? new Decimal(0))} USD (before funding)${dust}`;
    }
    case 'rollback': {
      const reversal = event.reversal ? `reversed: ${fillLine(event.reversal)}` : `REVERSAL FAILED: ${event.reversalError ?? 'unknown'}; act by hand`;
      return `🚨 ROLLBACK ${event.operation.coin} (${who(event.operation)})\n  ${event.failedLeg} leg failed: ${event.failure}\n  ${event.filled.kind} leg had filled: ${fillLine(event.filled)}\n  ${reversal}`;
    }
    case 'drift':
      return `🚨 DRIFT ${event.delta.coin}: spot ${event.delta.spotQty.toString()} vs perp ${event.delta.perpQty.toString()} = ${event.delta.driftBps.toFixed(1)} bps (tolerance ${event.delta.toleranceBps.toString()})${event.operation ? ` (${who(event.operation)})` : ''}\n  ${event.action}`;
    case 'late_fill': {
      const undo = event.reversal ? `undone: ${fillLine(event.reversal)}` : `UNDO FAILED: ${event.reversalError ?? 'unknown'}; act by hand`;
      return `🚨 LATE FILL ${event.fill.coin} (operation ${event.operationId}): an order given up as unknown filled after all\n  ${fillLine(event.fill)}\n  ${undo}`;
    }
    case 'recovery':
      return `🚨 RECOVERY ${event.operation.kind} ${event.operation.coin} (${who(event.operation)}): ${event.outcome}`;
    case 'funding':
      return `💰 FUNDING ${event.position.coin} ${event.position.id}: ${signedUsd(event.amountUsd)} USD at ${pct(event.rate.mul(100), 4)}`;
    case 'liquidation':
      return `🚨 LIQUIDATION NEAR ${event.position.coin} ${event.position.id}: perp short liquidates at ${event.source === 'venue' ? `${price(event.liquidationPrice)} (the venue's figure)` : `about ${price(event.liquidationPrice)} (estimate)`}, ${pct(event.distancePct, 1)} above the mark; add margin or reduce the hedge`;
    case 'funding_mismatch':
      return formatFundingMismatch(event.comparison);
    case 'reconcile':
      return [
        `🚨 RECONCILIATION: the venue does not hold what the records say; opens of ${[...new Set(event.differences.map((d) => d.coin))].join(', ')} wait`,
        ...event.differences.map((d) => `  ${differenceLine(d)}`),
        `  Check the venue: close or transfer what should not be there by hand, or send /resume (admin) to accept it as held outside the hedges.`,
      ].join('\n');
    case 'reconciled':
      return `✅ RECONCILED ${event.coins.join(', ')}: the venue matches the records again; opens of ${event.coins.length === 1 ? 'it' : 'them'} are allowed`;
    case 'unresolved': {
      const orders = event.orders.map((o) => `  ${o.request.kind} ${o.request.side.toUpperCase()} ${o.request.qty.toString()} ${event.operation.coin} (${o.request.clientOrderId}): outcome unknown — ${o.reason}`);
      const filled = event.filled.length > 0 ? event.filled.map((f) => `  known: ${fillLine(f)}`) : ['  no other order of it is known to have filled'];
      return [
        `🚨 UNFINISHED ${event.operation.kind} ${event.operation.coin} (${who(event.operation)}): the venue has not told what became of an order, so nothing is assumed`,
        ...orders,
        ...filled,
        `  The bot keeps asking and finishes it (hedge, roll-back or close) at the next delta check; don't trade ${event.operation.coin} by hand meanwhile.`,
      ].join('\n');
    }
    case 'opportunity':
      return `📈 FUNDING above ${pct(event.thresholdPct, 1)} net APR: ${event.rows.map((r) => `${r.coin} ${pct(r.netAprPct, 1)} (every ${r.intervalHours}h)`).join(', ')}`;
    case 'error':
      return `🚨 ERROR ${event.code}${event.operation ? ` (${who(event.operation)})` : ''}: ${event.message}`;
  }
}

/** Funding amounts are cents and fractions of cents: four decimals. */
const FUNDING_DECIMALS = 4;

function formatFundingMismatch(c: FundingComparison): string {
  const p = c.position;
  const amount = (value: Decimal): string => `${signedUsd(value, FUNDING_DECIMALS)} USD`;
  const times = (list: readonly number[]): string => `${list.slice(0, 3).map(utc).join(', ')}${list.length > 3 ? ` and ${list.length - 3} more` : ''}`;
  const lines = [
    `🚨 FUNDING MISMATCH ${p.coin} hedge ${p.id}: the venue paid ${amount(c.venueUsd)}, the ledger booked ${amount(c.ledgerUsd)}`,
    `  difference ${amount(c.differenceUsd)} (venue − ledger; tolerance ${usd(c.toleranceUsd, FUNDING_DECIMALS)})`,
    `  funding times ${utc(c.fromMs)} → ${utc(c.toMs)} UTC: ${c.bookings} booked, ${c.payments} paid by the venue`,
  ];
  if (c.unpaidTimesMs.length > 0) lines.push(`  booked, not paid by the venue: ${times(c.unpaidTimesMs)}`);
  if (c.unbookedTimesMs.length > 0) lines.push(`  paid by the venue, not booked: ${times(c.unbookedTimesMs)}`);
  lines.push(`  The ledger is left as booked (/status shows the venue's figure); check the venue's funding history.`);
  return lines.join('\n');
}

function driftOf(spot: Decimal, perp: Decimal): string {
  const larger = Decimal.max(spot, perp);
  return larger.isZero() ? '0.0' : spot.minus(perp).abs().div(larger).mul(10_000).toFixed(1);
}

export function formatPnl(report: PnlReport): string {
  return [report, ...report.otherModes].map(formatPnlOfMode).join('\n\n');
}

function formatPnlOfMode(report: PnlReport): string {
  if (report.rows.length === 0) return `No hedges yet in ${report.mode.toUpperCase()} mode.`;
  const lines = [`PnL ${report.mode.toUpperCase()} (USD)`, 'coin  id         realised  funding    fees  unrealised'];
  for (const row of report.rows) {
    const unrealised = row.position.status === 'closed' ? '-' : row.unrealisedUsd ? signedUsd(row.unrealisedUsd) : 'stale';
    lines.push(
      `${row.position.coin.padEnd(5)} ${row.position.id.padEnd(10)} ${signedUsd(row.realisedUsd).padStart(8)} ${signedUsd(row.fundingUsd).padStart(8)} ${usd(row.feesUsd).padStart(7)} ${unrealised.padStart(11)}`,
    );
  }
  lines.push(
    `total            ${signedUsd(report.realisedUsd).padStart(8)} ${signedUsd(report.fundingUsd).padStart(8)} ${usd(report.feesUsd).padStart(7)} ${signedUsd(report.unrealisedUsd).padStart(11)}`,
    `net ${signedUsd(report.totalUsd)} USD (realised + funding + unrealised; fees are already inside)${report.unrealisedComplete ? '' : ', some prices stale'}`,
  );
  return lines.join('\n');
}

export function formatAudit(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return 'The audit log is empty.';
  return [
    `Last ${entries.length} audit entries, newest first`,
    ...entries.map((e) => `${new Date(e.atMs).toISOString().slice(5, 19).replace('T', ' ')} ${e.name} (${e.userId}) in ${e.chatId}: ${e.action} → ${e.outcome}`),
  ].join('\n');
}
