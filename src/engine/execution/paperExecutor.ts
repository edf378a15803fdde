import type { Clock } from '../domain/clock.js';
import { Decimal } from '../domain/decimal.js';
import { OrderRejectedError, asBotError } from '../domain/errors.js';
import type { LedgerEntry, OrderRequest, OrderResult } from '../domain/types.js';
import { LATE_FAULT_DELAY_MS, buildsLeg, type FaultKind, type FaultPlan } from '../exchange/faults.js';
import { FaultedOrders } from '../exchange/faultedOrders.js';
import { simulateFill } from '../exchange/simulatedFill.js';
import type { InstrumentInfo } from '../market/instrumentInfo.js';
import type { TickerService } from '../market/tickerService.js';
import type { Store } from '../store/port.js';
import { fillLedgerEntries } from './ledgerEntries.js';
import { addToBalances, type LedgerView } from './ledgerView.js';
import type { Balances, Executor } from './port.js';

export const PAPER_SLIPPAGE_BPS = new Decimal(5);

/**
 * Paper trading: fills at the cached ticker price with 5 bps slippage against the taker, pays
 * taker fees, keeps virtual balances as the sum of the ledger, and marks every fill simulated.
 * SIM_FAULTS apply here as on the simulated venue, so failure paths show in paper mode too.
 */
export class PaperExecutor implements Executor {
  readonly mode = 'paper' as const;
  private seq = 0;
  private readonly faulted = new FaultedOrders();

  constructor(
    private readonly deps: {
      store: Store;
      tickers: TickerService;
      instruments: InstrumentInfo;
      clock: Clock;
      faults: FaultPlan;
      legLatencyMs: number;
      ledger: LedgerView;
    },
  ) {}

  /**
   * Fills once per client order id: the fill is recorded only if none is stored under that id
   * (atomically, with its ledger lines), and a repeat gets the first fill back. So the usual
   * order costs one store request; only a faulted one first looks for an earlier fill.
   */
  async execute(request: OrderRequest): Promise<OrderResult> {
    const { store, tickers, clock, faults } = this.deps;
    // A repeat of an order that already filled gets that fill, not a stale-price error or a fault.
    const earlier = (): Promise<OrderResult | null> => store.getFill(request.clientOrderId);
    let referencePrice: Decimal;
    try {
      referencePrice = tickers.get(request.symbol).last;
    } catch (err) {
      const done = await earlier();
      if (done) return done;
      // No price to fill at: nothing happened, a refusal to try again later.
      const cause = asBotError(err);
      throw new OrderRejectedError(`${request.kind} ${request.side} ${request.qty.toString()} ${request.symbol} not filled: ${cause.message}`, { cause, code: cause.code, reaction: 'retry' });
    }
    if (this.deps.legLatencyMs > 0) await clock.sleep(this.deps.legLatencyMs);
    const fault = faults.faultFor(request.kind, request.coin);
    const building = buildsLeg(request.kind, request.side);
    if (fault) {
      const done = await earlier();
      if (done) return done;
      if (fault === 'late' && building) await clock.sleep(LATE_FAULT_DELAY_MS);
      if (fault === 'stale' && building) this.faulted.rest(request, this.orderId(), clock.nowMs());
    }
    const fill = await this.fill(request, fault, referencePrice, this.orderId());
    if (fault === 'lost' && building) this.faulted.lose(request, clock.nowMs());
    return fill ?? new Promise<OrderResult>(() => undefined);
  }

  /** The recorded fill; a faulted order answers as the simulated venue would (rate limited, working). */
  async lookup(_symbol: string, clientOrderId: string): Promise<OrderResult | null> {
    await this.fillDue();
    return this.faulted.lookup(clientOrderId, this.deps.clock.nowMs()) ?? this.deps.store.getFill(clientOrderId);
  }

  async balances(): Promise<Balances> {
    await this.fillDue();
    return this.deps.ledger.balancesOf(this.mode);
  }

  private orderId(): string {
    return `paper-${this.deps.clock.nowMs().toString(36)}-${++this.seq}`;
  }

  /** Fills at `referencePrice` and records it once (null for a timeout fault: never answered). */
  private async fill(request: OrderRequest, fault: FaultKind | null, referencePrice: Decimal, orderId: string): Promise<OrderResult | null> {
    const pair = this.deps.instruments.pair(request.coin);
    const instrument = request.kind === 'spot' ? pair.spot : pair.perp;
    const fill = simulateFill({ request, instrument, referencePrice, slippageBps: PAPER_SLIPPAGE_BPS, fault, nowMs: this.deps.clock.nowMs(), orderId });
    if (!fill) return null;
    const recorded = await this.deps.store.recordFill(fill, fillLedgerEntries(fill, this.mode));
    return recorded ?? fill;
  }

  /** Stale orders whose rest is over fill now, at the cached price of now. */
  private async fillDue(): Promise<void> {
    for (const { request, orderId } of this.faulted.takeDue(this.deps.clock.nowMs())) {
      await this.fill(request, null, this.deps.tickers.get(request.symbol).last, orderId);
    }
  }
}

/** Balances by account and asset: exactly the sum of the ledger lines of one mode. */
export function sumLedger(entries: readonly LedgerEntry[], mode: string): Balances {
  const balances: Balances = { spot: new Map(), perp: new Map() };
  for (const entry of entries) if (entry.mode === mode) addToBalances(balances, entry);
  return balances;
}
