import { Decimal } from '../src/engine/index.js';
import { compareDecimals } from '../src/engine/domain/decimal.js';
import type { FundingRate, Instrument } from '../src/engine/domain/types.js';
import { FeeCalculator } from '../src/engine/market/feeCalculator.js';
import { rankFunding } from '../src/engine/market/funding.js';
import { InstrumentInfo } from '../src/engine/market/instrumentInfo.js';
import { profileCpu, profileIterations, type ProfileSummary } from './profile.js';
import { collect, distribution, timeMs, type Distribution } from './stats.js';

const HOUR_MS = 3_600_000;
const INTERVALS = [1, 4, 8] as const;

/** Venue-like fee tiers, so the fee part of the ranking is not one constant. */
const SPOT_TAKER = ['0.001', '0.00075', '0.0006'];
const PERP_TAKER = ['0.0005', '0.0004', '0.00055'];

/** A small seeded generator: the same rows on every run and every machine. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * `count` funding rates, one per perp market, over `count` coins that each have a spot and a perp
 * market: rates from −0.05 % to +0.15 % per interval with 1 h, 4 h and 8 h intervals, as a scan
 * over several large venues returns.
 */
export function fundingUniverse(count: number): { rates: FundingRate[]; instruments: InstrumentInfo } {
  const random = seeded(1_800);
  const now = Date.UTC(2026, 0, 1);
  const instruments: Instrument[] = [];
  const rates: FundingRate[] = [];
  for (let i = 0; i < count; i += 1) {
    const coin = `C${String(i).padStart(4, '0')}`;
    const tier = i % SPOT_TAKER.length;
    const common = { coin, qtyStep: new Decimal('0.001'), priceTick: new Decimal('0.01'), minQty: new Decimal('0.001'), maxQty: new Decimal(1_000_000), minNotionalUsd: new Decimal(5) };
    instruments.push(
      { ...common, kind: 'spot', symbol: `${coin}/USDT`, makerFeeRate: new Decimal(SPOT_TAKER[tier] ?? '0.001'), takerFeeRate: new Decimal(SPOT_TAKER[tier] ?? '0.001') },
      { ...common, kind: 'perp', symbol: `${coin}/USDT:USDT`, makerFeeRate: new Decimal('0.0002'), takerFeeRate: new Decimal(PERP_TAKER[tier] ?? '0.0005') },
    );
    const intervalHours = INTERVALS[i % INTERVALS.length] ?? 8;
    // Rates come from venues as short decimal strings (e.g. 0.000125).
    const rate = new Decimal(Math.round((random() * 0.002 - 0.0005) * 1e7)).div(1e7);
    rates.push({ coin, symbol: `${coin}/USDT:USDT`, rate, intervalHours, nextFundingTimeMs: now + intervalHours * HOUR_MS });
  }
  return { rates, instruments: new InstrumentInfo(instruments) };
}

export interface RankResult {
  samples: number[];
  /** Sorting the same number of Decimals as the ranking does (compareDecimals), from a shuffled order: the sort's share. */
  decimalSort: Distribution;
  profile: ProfileSummary | null;
}

/** rankFunding as scanFunding calls it: net APR after fees, APR and break-even for every row, sorted. */
export async function benchRank(options: { rows: number; runs: number; warmup: number; budgetMs: number; profileOverMs?: number }): Promise<RankResult> {
  const { rates, instruments } = fundingUniverse(options.rows);
  const fees = new FeeCalculator();
  const pairOf = (coin: string) => (instruments.has(coin) ? instruments.pair(coin) : null);
  const samples = await collect(options.runs, options.warmup, async () => {
    const start = performance.now();
    const ranked = rankFunding(rates, pairOf, fees, 7);
    const elapsed = performance.now() - start;
    if (ranked.length !== options.rows) throw new Error(`bench: ranked ${ranked.length} of ${options.rows} rates`);
    return elapsed;
  }, options.budgetMs);
  const random = seeded(7);
  const values = rankFunding(rates, pairOf, fees, 7).map((row) => ({ key: random(), value: row.netAprPct }));
  const shuffled = values.sort((a, b) => a.key - b.key).map((v) => v.value);
  const decimalSort = distribution(await collect(50, 5, () => timeMs(async () => [...shuffled].sort((a, b) => compareDecimals(b, a)))));
  const p50 = distribution(samples).p50;
  const profile =
    options.profileOverMs !== undefined && p50 > options.profileOverMs ? await profileCpu(async () => rankFunding(rates, pairOf, fees, 7), profileIterations(p50)) : null;
  return { samples, decimalSort, profile };
}
