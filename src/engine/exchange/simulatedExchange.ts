import { Decimal, ZERO } from '../domain/decimal.js';
import { InvalidInputError, NotFoundError } from '../domain/errors.js';
import type { Clock } from '../domain/clock.js';
import {
  QUOTE_ASSET,
  perpAsset,
  type FundingPayment,
  type FundingRate,
  type Instrument,
  type OrderRequest,
  type OrderResult,
  type SettledFundingRate,
  type Ticker,
} from '../domain/types.js';
import type { Exchange } from './port.js';
import { FaultPlan, LATE_FAULT_DELAY_MS, buildsLeg, type FaultKind } from './faults.js';
import { FaultedOrders } from './faultedOrders.js';
import { simulateFill } from './simulatedFill.js';
import {
  SIM_CATALOG,
  SIM_MAX_QTY_NOTIONAL_USD,
  SIM_PERP_MAKER_FEE,
  SIM_PERP_TAKER_FEE,
  SIM_SPOT_MAKER_FEE,
  SIM_SPOT_TAKER_FEE,
  type SimCoin,
} from './simulatedCatalog.js';

const HOUR_MS = 3_600_000;
/** Per-√second volatility of the random walk (≈ 55 % a year, a typical crypto level). */
const VOL_PER_SQRT_SECOND = new Decimal('0.0001');
const HALF_SPREAD = new Decimal('0.00005');
const FUNDING_STEP = new Decimal('0.000002');
/** Settled rates kept per coin, newest last: 200 funding times, 8 days at 1 h and 66 at 8 h. */
export const SIM_SETTLED_RATES_KEPT = 200;

/** mulberry32: a small seeded generator, so a seed replays the same market. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

interface CoinState {
  spec: SimCoin;
  spotPrice: Decimal;
  fundingRate: Decimal;
}

export interface SimulatedExchangeOptions {
  clock: Clock;
  seed?: number;
  faults?: FaultPlan;
  /** Delay before each order is answered. */
  legLatencyMs?: number;
  slippageBps?: Decimal;
  startBalancesUsdt?: Decimal;
}

/**
 * A venue in memory: spot and linear-perp markets for the catalog's coins with seeded
 * random-walk prices and drifting funding rates. Prices move with the injected clock, so tests
 * replay exactly. It also takes orders (for the live executor's contract tests and demos).
 */
export class SimulatedExchange implements Exchange {
  readonly name = 'simulated';
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly faults: FaultPlan;
  private readonly legLatencyMs: number;
  private readonly slippageBps: Decimal;
  private readonly coins = new Map<string, CoinState>();
  private readonly instruments = new Map<string, Instrument>();
  private readonly orders = new Map<string, OrderResult>();
  /** Orders sent and not answered yet: a repeat of one joins it, as a venue refuses a duplicate id. */
  private readonly inFlight = new Map<string, Promise<OrderResult>>();
  private readonly faulted = new FaultedOrders();
  private readonly spot = new Map<string, Decimal>();
  private readonly perp = new Map<string, Decimal>();
  /** Funding paid or charged on held perps, oldest first. */
  private readonly fundingPayments: FundingPayment[] = [];
  /** The rate each coin's perp settled at its funding times, oldest first, at most SIM_SETTLED_RATES_KEPT. */
  private readonly settledRates = new Map<string, SettledFundingRate[]>();
  private lastStepMs: number;
  private orderSeq = 0;

  constructor(options: SimulatedExchangeOptions) {
    this.clock = options.clock;
    this.random = seededRandom(options.seed ?? 42);
    this.faults = options.faults ?? new FaultPlan();
    this.legLatencyMs = options.legLatencyMs ?? 0;
    this.slippageBps = options.slippageBps ?? new Decimal(5);
    this.lastStepMs = this.clock.nowMs();
    const start = options.startBalancesUsdt ?? new Decimal(100_000);
    this.spot.set(QUOTE_ASSET, start);
    this.perp.set(QUOTE_ASSET, start);
    for (const spec of SIM_CATALOG) {
      this.coins.set(spec.coin, { spec, spotPrice: new Decimal(spec.price), fundingRate: new Decimal(spec.fundingRate) });
      for (const instrument of instrumentsOf(spec)) this.instruments.set(instrument.symbol, instrument);
    }
  }

  loadInstruments(): Promise<Instrument[]> {
    return Promise.resolve([...this.instruments.values()]);
  }

  // async, so an unknown symbol rejects the promise instead of throwing at the call.
  async fetchTickers(symbols: readonly string[]): Promise<Ticker[]> {
    this.step();
    const now = this.clock.nowMs();
    return symbols.map((symbol) => {
      const instrument = this.instrument(symbol);
      const last = this.lastPrice(instrument);
      const halfSpread = last.mul(HALF_SPREAD);
      return {
        symbol,
        bid: last.minus(halfSpread).toNearest(instrument.priceTick, Decimal.ROUND_DOWN),
        ask: last.plus(halfSpread).toNearest(instrument.priceTick, Decimal.ROUND_UP),
        last,
        timestampMs: now,
      };
    });
  }

  fetchFundingRates(): Promise<FundingRate[]> {
    this.step();
    const now = this.clock.nowMs();
    return Promise.resolve(
      [...this.coins.values()].map(({ spec, fundingRate }) => {
        const intervalMs = spec.fundingIntervalHours * HOUR_MS;
        return {
          coin: spec.coin,
          symbol: perpSymbol(spec.coin),
          rate: fundingRate,
          intervalHours: spec.fundingIntervalHours,
          nextFundingTimeMs: Math.floor(now / intervalMs) * intervalMs + intervalMs,
        };
      }),
    );
  }

  placeOrder(request: OrderRequest): Promise<OrderResult> {
    this.fillDue();
    const known = this.orders.get(request.clientOrderId);
    if (known) return Promise.resolve(known);
    const resting = this.faulted.lookup(request.clientOrderId, this.clock.nowMs());
    if (resting) return Promise.resolve(resting);
    const pending = this.inFlight.get(request.clientOrderId);
    if (pending) return pending;
    const placing = this.fill(request);
    this.inFlight.set(request.clientOrderId, placing);
    const forget = (): void => {
      this.inFlight.delete(request.clientOrderId);
    };
    void placing.then(forget, forget);
    return placing;
  }

  private async fill(request: OrderRequest): Promise<OrderResult> {
    if (this.legLatencyMs > 0) await this.clock.sleep(this.legLatencyMs);
    const fault = this.faults.faultFor(request.kind, request.coin);
    if (fault === 'late' && buildsLeg(request.kind, request.side)) await this.clock.sleep(LATE_FAULT_DELAY_MS);
    this.step();
    const building = buildsLeg(request.kind, request.side);
    if (fault === 'stale' && building) this.faulted.rest(request, `sim${++this.orderSeq}`, this.clock.nowMs());
    const fill = this.execute(request, fault, `sim${++this.orderSeq}`);
    // A timeout fault: the venue never answers and never fills.
    if (!fill) return new Promise<OrderResult>(() => undefined);
    if (fault === 'lost' && building) this.faulted.lose(request, this.clock.nowMs());
    return fill;
  }

  /** Fills an order now at the current price and books it. */
  private execute(request: OrderRequest, fault: FaultKind | null, orderId: string): OrderResult | null {
    const instrument = this.instrument(request.symbol);
    const fill = simulateFill({ request, instrument, referencePrice: this.lastPrice(instrument), slippageBps: this.slippageBps, fault, nowMs: this.clock.nowMs(), orderId });
    if (!fill) return null;
    this.orders.set(request.clientOrderId, fill);
    this.settle(fill);
    return fill;
  }

  /** Stale orders whose rest is over fill now, at the price of now. */
  private fillDue(): void {
    for (const { request, orderId } of this.faulted.takeDue(this.clock.nowMs())) this.execute(request, null, orderId);
  }

  // async, so a faulted lookup rejects the promise instead of throwing at the call.
  async fetchOrderByClientId(_symbol: string, clientOrderId: string): Promise<OrderResult | null> {
    this.fillDue();
    return this.faulted.lookup(clientOrderId, this.clock.nowMs()) ?? this.orders.get(clientOrderId) ?? null;
  }

  fetchBalances(): Promise<{ spot: Map<string, Decimal>; perp: Map<string, Decimal> }> {
    this.fillDue();
    return Promise.resolve({ spot: new Map(this.spot), perp: new Map(this.perp) });
  }

  // async, so an unknown symbol rejects the promise instead of throwing at the call.
  async fetchFundingPayments(symbol: string, sinceMs: number): Promise<FundingPayment[]> {
    this.instrument(symbol);
    this.step();
    return this.fundingPayments.filter((p) => p.symbol === symbol && p.atMs >= sinceMs);
  }

  // async, so an unknown symbol rejects the promise instead of throwing at the call.
  async fetchFundingRateHistory(symbol: string, sinceMs: number): Promise<SettledFundingRate[]> {
    const instrument = this.instrument(symbol);
    if (instrument.kind !== 'perp') throw new InvalidInputError(`${symbol} is a spot market; funding is settled on the perp`);
    this.step();
    return (this.settledRates.get(instrument.coin) ?? []).filter((r) => r.atMs >= sinceMs).map((r) => ({ ...r }));
  }

  /** Moves a coin's price by a factor (tests and demos of drift and risk). */
  shock(coin: string, factor: Decimal): void {
    const state = this.coins.get(coin);
    if (state) state.spotPrice = state.spotPrice.mul(factor);
  }

  private settle(fill: OrderResult): void {
    const notional = fill.filledQty.mul(fill.avgPrice);
    const sign = fill.side === 'buy' ? -1 : 1;
    const book = fill.kind === 'spot' ? this.spot : this.perp;
    const asset = fill.kind === 'spot' ? fill.coin : perpAsset(fill.coin);
    add(book, QUOTE_ASSET, notional.mul(sign).minus(fill.feeUsd));
    add(book, asset, fill.filledQty.mul(-sign));
  }

  private instrument(symbol: string): Instrument {
    const instrument = this.instruments.get(symbol);
    if (!instrument) throw new NotFoundError(`the simulated venue has no market ${symbol}`);
    return instrument;
  }

  private lastPrice(instrument: Instrument): Decimal {
    const state = this.coins.get(instrument.coin);
    if (!state) throw new NotFoundError(`the simulated venue has no coin ${instrument.coin}`);
    // The perp trades at a small premium that follows funding, as real perps do.
    const price =
      instrument.kind === 'spot' ? state.spotPrice : state.spotPrice.mul(state.fundingRate.mul(3).plus(1));
    return price.toNearest(instrument.priceTick);
  }

  /**
   * Advances every random walk to the clock's time, one Gaussian-like step per call, then settles
   * the funding times the step passed.
   */
  private step(): void {
    this.fillDue();
    const now = this.clock.nowMs();
    const elapsedSeconds = new Decimal(now - this.lastStepMs).div(1000);
    if (elapsedSeconds.lte(0)) return;
    const previousMs = this.lastStepMs;
    this.lastStepMs = now;
    const scale = VOL_PER_SQRT_SECOND.mul(elapsedSeconds.sqrt());
    for (const state of this.coins.values()) {
      state.spotPrice = state.spotPrice.mul(this.shockFactor(scale));
      state.fundingRate = state.fundingRate.plus(FUNDING_STEP.mul(this.unitNoise()));
    }
    this.payFunding(previousMs, now);
  }

  /**
   * Every perp settles its rate at each funding time in (fromMs, toMs]; each one held then is paid
   * rate × position × mark, a short receiving a positive rate, at the step's new prices (the walk
   * has no price in between). No random draw here: holding a position never changes the seeded market.
   */
  private payFunding(fromMs: number, toMs: number): void {
    for (const { spec, fundingRate } of this.coins.values()) {
      const intervalMs = spec.fundingIntervalHours * HOUR_MS;
      const firstMs = Math.floor(fromMs / intervalMs) * intervalMs + intervalMs;
      if (firstMs > toMs) continue;
      this.recordSettled(spec.coin, firstMs, toMs, intervalMs, fundingRate);
      const positionQty = this.perp.get(perpAsset(spec.coin));
      if (!positionQty || positionQty.isZero()) continue;
      const symbol = perpSymbol(spec.coin);
      const amountUsd = fundingRate.mul(positionQty.neg()).mul(this.lastPrice(this.instrument(symbol)));
      for (let atMs = firstMs; atMs <= toMs; atMs += intervalMs) {
        this.fundingPayments.push({ id: `simfund-${spec.coin}-${atMs}`, symbol, coin: spec.coin, atMs, amountUsd });
        add(this.perp, QUOTE_ASSET, amountUsd);
      }
    }
  }

  /** Records the rate settled at the funding times from firstMs to toMs; only the newest are kept. */
  private recordSettled(coin: string, firstMs: number, toMs: number, intervalMs: number, rate: Decimal): void {
    const settled = this.settledRates.get(coin) ?? [];
    const lastMs = Math.floor(toMs / intervalMs) * intervalMs;
    for (let atMs = Math.max(firstMs, lastMs - (SIM_SETTLED_RATES_KEPT - 1) * intervalMs); atMs <= lastMs; atMs += intervalMs) settled.push({ atMs, rate });
    this.settledRates.set(coin, settled.slice(-SIM_SETTLED_RATES_KEPT));
  }

  /** 1 + scale × noise, with noise of unit variance built from integers (no floats on prices). */
  private shockFactor(scale: Decimal): Decimal {
    return this.unitNoise().mul(scale).plus(1);
  }

  /**
   * Sum of three uniforms on [−1, 1] in steps of one millionth, as an exact Decimal. The draws
   * are summed as integers (at most 3,000,000 in size, exact in a JS number) and divided once.
   */
  private unitNoise(): Decimal {
    let millionths = 0;
    for (let i = 0; i < 3; i += 1) millionths += (this.random() % 2_000_001) - 1_000_000;
    return new Decimal(millionths).div(1_000_000);
  }
}

function add(book: Map<string, Decimal>, asset: string, amount: Decimal): void {
  book.set(asset, (book.get(asset) ?? ZERO).plus(amount));
}

export const spotSymbol = (coin: string): string => `${coin}/USDT`;
export const perpSymbol = (coin: string): string => `${coin}/USDT:USDT`;

function instrumentsOf(spec: SimCoin): Instrument[] {
  const maxNotional = new Decimal(SIM_MAX_QTY_NOTIONAL_USD);
  const price = new Decimal(spec.price);
  const common = { coin: spec.coin, priceTick: new Decimal(spec.priceTick) };
  const spotStep = new Decimal(spec.spotQtyStep);
  const perpStep = new Decimal(spec.perpQtyStep);
  return [
    {
      ...common,
      kind: 'spot',
      symbol: spotSymbol(spec.coin),
      qtyStep: spotStep,
      minQty: spotStep,
      maxQty: maxNotional.div(price).toNearest(spotStep, Decimal.ROUND_DOWN),
      minNotionalUsd: new Decimal(spec.spotMinNotional),
      makerFeeRate: new Decimal(SIM_SPOT_MAKER_FEE),
      takerFeeRate: new Decimal(SIM_SPOT_TAKER_FEE),
    },
    {
      ...common,
      kind: 'perp',
      symbol: perpSymbol(spec.coin),
      qtyStep: perpStep,
      minQty: perpStep,
      maxQty: maxNotional.div(price).toNearest(perpStep, Decimal.ROUND_DOWN),
      minNotionalUsd: new Decimal(spec.perpMinNotional),
      makerFeeRate: new Decimal(SIM_PERP_MAKER_FEE),
      takerFeeRate: new Decimal(SIM_PERP_TAKER_FEE),
    },
  ];
}
