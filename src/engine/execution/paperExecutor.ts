import type { Clock } from '../domain/clock.js';
import { Decimal } from '../domain/decimal.js';
import type { LedgerEntry, OrderRequest, OrderResult } from '../domain/types.js';
import { LATE_FAULT_DELAY_MS, buildsLeg, type FaultPlan } from '../exchange/faults.js';
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
    const { store, tickers, instruments, clock, faults } = this.deps;
    const pair = instruments.pair(request.coin);
    const instrument = request.kind === 'spot' ? pair.spot : pair.perp;
    // A repeat of an order that already filled gets that fill, not a stale-price error or a fault.
    const earlier = (): Promise<OrderResult | null> => store.getFill(request.clientOrderId);
    let referencePrice: Decimal;
    try {
      referencePrice = tickers.get(request.symbol).last;
    } catch (err) {
      const done = await earlier();
      if (done) return done;
      throw err;
    }
    if (this.deps.legLatencyMs > 0) await clock.sleep(this.deps.legLatencyMs);
    const fault = faults.faultFor(request.kind, request.coin);
    if (fault) {
      const done = await earlier();
      if (done) return done;
      if (fault === 'late' && buildsLeg(request.kind, request.side)) await clock.sleep(LATE_FAULT_DELAY_MS);
    }
    const fill = simulateFill({
      request,
      instrument,
      referencePrice,
      slippageBps: PAPER_SLIPPAGE_BPS,
      fault,
      nowMs: clock.nowMs(),
      orderId: `paper-${clock.nowMs().toString(36)}-${++this.seq}`,
    });
    if (!fill) return new Promise<OrderResult>(() => undefined);
    const recorded = await store.recordFill(fill, fillLedgerEntries(fill, this.mode));
    return recorded ?? fill;
  }

  lookup(_symbol: string, clientOrderId: string): Promise<OrderResult | null> {
    return this.deps.store.getFill(clientOrderId);
  }

  balances(): Promise<Balances> {
    return this.deps.ledger.balancesOf(this.mode);
  }
}

/** Balances by account and asset: exactly the sum of the ledger lines of one mode. */
export function sumLedger(entries: readonly LedgerEntry[], mode: string): Balances {
  const balances: Balances = { spot: new Map(), perp: new Map() };
  for (const entry of entries) if (entry.mode === mode) addToBalances(balances, entry);
  return balances;
}
