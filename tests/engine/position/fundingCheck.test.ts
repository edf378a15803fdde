import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Decimal, Engine, ManualClock, VenueError, type EngineConfig, type EngineEvent, type Requester } from '../../../src/engine/index.js';
import type { FundingPayment, LedgerEntry, Position } from '../../../src/engine/domain/types.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { compareFunding } from '../../../src/engine/position/fundingCheck.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { livePosition } from '../../support/engine.js';
import { testEngineConfig } from '../../support/engineHarness.js';
import { FUNDING, VENUE_CASES, exchangeOver } from '../exchange/ccxtVenueFixtures.js';

const HOUR_MS = 3_600_000;
const ADMIN: Requester = { userId: '1', name: 'alice', chatId: 'ops' };
const F = Date.UTC(2026, 0, 1, 8);
const silent = pino({ level: 'silent' });

function hedge(overrides: Partial<Position> = {}): Position {
  return { ...livePosition('BTC', '0.00999', '0.01', FUNDING.openedAtMs), ...overrides };
}

const booking = (positionId: string, atMs: number, amount: string, suffix = ''): LedgerEntry => ({
  id: `funding:${positionId}:${atMs}${suffix}`,
  atMs,
  kind: 'funding',
  account: 'perp',
  asset: 'USDT',
  amount: new Decimal(amount),
  ref: positionId,
  mode: 'live',
});

const paid = (atMs: number, amount: string): FundingPayment => ({ id: `v${atMs}`, symbol: 'BTC/USDT:USDT', coin: 'BTC', atMs, amountUsd: new Decimal(amount) });

const TOLERANCE = { absoluteUsd: new Decimal('0.01'), relative: new Decimal('0.01') };

describe('compareFunding', () => {
  it('counts each venue payment at the booked funding time nearest to it, seconds or minutes off the grid', () => {
    const lines = [booking('p', F, '0.1'), booking('p', F + 8 * HOUR_MS, '0.2'), booking('p', F + 16 * HOUR_MS, '0.3'), booking('p', F + 24 * HOUR_MS, '0.4')];
    const payments = [paid(F + 15_000, '0.1'), paid(F + 8 * HOUR_MS + 120_000, '0.2'), paid(F + 16 * HOUR_MS - 3_000, '0.3'), paid(F + 24 * HOUR_MS + 5_000, '0.4')];
    const c = compareFunding({ position: hedge(), lines, payments, horizonMs: F + 16 * HOUR_MS, tolerance: TOLERANCE });
    expect({ from: c.fromMs, to: c.toMs, bookings: c.bookings, payments: c.payments }).toEqual({ from: F, to: F + 16 * HOUR_MS, bookings: 3, payments: 3 });
    expect([c.ledgerUsd, c.venueUsd, c.differenceUsd].map(String)).toEqual(['0.6', '0.6', '0']);
    expect(c.withinTolerance).toBe(true);
    expect([c.unpaidTimesMs, c.unbookedTimesMs]).toEqual([[], []]);
  });

  it('names the funding times only one side has and sums what each side has', () => {
    const lines = [booking('p', F, '0.1'), booking('p', F + 8 * HOUR_MS, '0.2'), booking('p', F + 16 * HOUR_MS, '0.3')];
    const payments = [paid(F + 10_000, '0.1'), paid(F + 4 * HOUR_MS, '0.05'), paid(F + 16 * HOUR_MS + 1_000, '0.3')];
    const c = compareFunding({ position: hedge(), lines, payments, horizonMs: F + 16 * HOUR_MS, tolerance: TOLERANCE });
    expect([c.ledgerUsd, c.venueUsd, c.differenceUsd].map(String)).toEqual(['0.6', '0.45', '-0.15']);
    expect(c.unpaidTimesMs).toEqual([F + 8 * HOUR_MS]);
    expect(c.unbookedTimesMs).toEqual([F + 4 * HOUR_MS]);
    expect(c.withinTolerance).toBe(false);
  });

  it('compares only from sinceMs on: funding the venue no longer lists does not count as unpaid', () => {
    const day = 24 * HOUR_MS;
    // Booked every 8 h for 60 days; the venue's history keeps only the last 45 days.
    const times = Array.from({ length: 180 }, (_, i) => F + i * 8 * HOUR_MS);
    const lines = times.map((t) => booking('p', t, '0.1'));
    const horizonMs = times.at(-1)!;
    const payments = times.filter((t) => t > horizonMs - 45 * day).map((t) => paid(t + 20_000, '0.1'));
    const all = compareFunding({ position: hedge(), lines, payments, horizonMs, tolerance: TOLERANCE });
    expect(all.withinTolerance).toBe(false);
    expect(all.unpaidTimesMs.length).toBeGreaterThan(40);
    const sinceMs = horizonMs - 30 * day;
    const windowed = compareFunding({ position: hedge(), lines, payments, horizonMs, sinceMs, tolerance: TOLERANCE });
    expect(windowed.withinTolerance).toBe(true);
    expect([windowed.bookings, windowed.payments, windowed.fromMs]).toEqual([91, 91, sinceMs]);
    expect([windowed.unpaidTimesMs, windowed.unbookedTimesMs]).toEqual([[], []]);
    // A payment for the window's first funding time, stamped a little before it, still counts there.
    const early = compareFunding({ position: hedge(), lines, payments: [paid(sinceMs - 60_000, '0.1')], horizonMs: sinceMs, sinceMs, tolerance: TOLERANCE });
    expect([early.payments, early.unbookedTimesMs, early.withinTolerance]).toEqual([1, [], true]);
  });

  it('allows the absolute tolerance plus the relative part of the larger sum, and no more', () => {
    const compare = (venue: string) => compareFunding({ position: hedge(), lines: [booking('p', F, '10')], payments: [paid(F, venue)], horizonMs: F, tolerance: TOLERANCE });
    // 0.01 + 1 % of 10.11 = 0.1111
    expect(compare('10.11')).toMatchObject({ withinTolerance: true });
    expect(compare('10.11').toleranceUsd.toString()).toBe('0.1111');
    expect(compare('9.89')).toMatchObject({ withinTolerance: true });
    expect(compare('10.12').withinTolerance).toBe(false);
    expect(compare('9.88').withinTolerance).toBe(false);
    const small = (venue: string) => compareFunding({ position: hedge(), lines: [booking('p', F, '0.001')], payments: [paid(F, venue)], horizonMs: F, tolerance: TOLERANCE });
    expect(small('0.0109').withinTolerance).toBe(true);
    expect(small('0.0112').withinTolerance).toBe(false);
  });
});

/** An engine trading live on the simulated venue, which also serves its market data. */
async function liveOnSimulatedVenue(options: { config?: Partial<EngineConfig>; venue?: (sim: SimulatedExchange) => Exchange; mode?: 'paper' | 'live' } = {}) {
  const clock = new ManualClock();
  const sim = new SimulatedExchange({ clock, seed: 7 });
  const store = new MemoryStore();
  const engine = await Engine.create({ config: testEngineConfig(options.config), clock, store, exchange: sim, liveExchange: options.venue ? options.venue(sim) : sim, logger: silent });
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  await engine.start();
  if ((options.mode ?? 'live') === 'live') await engine.setMode('live', ADMIN);
  const preview = await engine.previewOpen('SUI', new Decimal(2000), ADMIN);
  const { position } = await engine.confirm(preview.operation.id, ADMIN);
  if (!position) throw new Error('the hedge did not open');
  const mismatches = () => events.filter((e) => e.type === 'funding_mismatch');
  /** Moves time in half hours, refreshing prices and booking funding as the jobs do (SUI funds hourly). */
  const pass = async (hours: number) => {
    for (let i = 0; i < hours * 2; i += 1) {
      await clock.advance(HOUR_MS / 2);
      await engine.refreshPrices();
      await engine.accrueFunding();
    }
  };
  return { engine, clock, sim, store, position, events, mismatches, pass };
}

/** The simulated venue with its funding history replaced (lost, refused, unsupported). */
function withFundingHistory(sim: SimulatedExchange, fetch: (real: SimulatedExchange['fetchFundingPayments']) => Exchange['fetchFundingPayments']): Exchange {
  const replaced = fetch(sim.fetchFundingPayments.bind(sim));
  return new Proxy(sim, {
    get: (target, key) => {
      if (key === 'fetchFundingPayments') return replaced;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('funding payments against the ledger, live on the simulated venue', () => {
  it('finds the venue paid what the ledger booked, shows it in /status and raises nothing', async () => {
    const h = await liveOnSimulatedVenue();
    await h.pass(3);
    const [result, ...others] = await h.engine.checkFundingPayments();
    expect(others).toEqual([]);
    expect(result?.outcome).toBe('match');
    if (result?.outcome !== 'match') return;
    const c = result.comparison;
    // Bookings at 01:00 and 02:00; the one at 03:00 is younger than the settling grace.
    expect([c.bookings, c.payments, c.fromMs, c.toMs]).toEqual([2, 2, h.position.openedAtMs + HOUR_MS, h.position.openedAtMs + 2 * HOUR_MS]);
    const venuePaid = (await h.sim.fetchFundingPayments('SUI/USDT:USDT', 0)).slice(0, 2).reduce((s, p) => s.plus(p.amountUsd), new Decimal(0));
    expect(c.venueUsd.toString()).toBe(venuePaid.toString());
    expect(c.ledgerUsd.toString()).toBe(venuePaid.toString());
    expect(venuePaid.gt(0)).toBe(true);
    const [view] = (await h.engine.status()).positions;
    expect(view?.venueFunding?.paidUsd.toString()).toBe(venuePaid.toString());
    expect(view?.venueFunding?.throughMs).toBe(c.toMs);
    expect(h.mismatches()).toEqual([]);
  });

  it('alerts a mismatch once, again only when the difference moves beyond the tolerance or after it was resolved', async () => {
    const h = await liveOnSimulatedVenue();
    const id = h.position.id;
    await h.pass(2);
    expect((await h.engine.checkFundingPayments())[0]?.outcome).toBe('match');
    // A funding time booked twice.
    await h.store.appendLedger([booking(id, h.position.openedAtMs + HOUR_MS, '0.5', ':again')]);
    await h.pass(1);
    expect((await h.engine.checkFundingPayments())[0]?.outcome).toBe('mismatch');
    const [first] = h.mismatches();
    expect(first?.type === 'funding_mismatch' && first.comparison.differenceUsd.toString()).toBe('-0.5');
    expect(first?.critical).toBe(true);
    // Checked again at once, and after the next funding time with the same difference: no repeat.
    expect((await h.engine.checkFundingPayments())[0]?.outcome).toBe('skipped');
    await h.pass(1);
    expect((await h.engine.checkFundingPayments())[0]?.outcome).toBe('mismatch');
    expect(h.mismatches()).toHaveLength(1);
    // The difference grows: alerted again.
    await h.store.appendLedger([booking(id, h.position.openedAtMs + 2 * HOUR_MS, '0.25', ':again')]);
    await h.pass(1);
    await h.engine.checkFundingPayments();
    const second = h.mismatches()[1];
    expect(second?.type === 'funding_mismatch' && second.comparison.differenceUsd.toString()).toBe('-0.75');
    // Set right, then wrong again: a new mismatch is alerted.
    await h.store.appendLedger([booking(id, h.position.openedAtMs + 3 * HOUR_MS, '-0.75', ':fix')]);
    await h.pass(1);
    expect((await h.engine.checkFundingPayments())[0]?.outcome).toBe('match');
    await h.store.appendLedger([booking(id, h.position.openedAtMs + 4 * HOUR_MS, '0.75', ':again')]);
    await h.pass(1);
    await h.engine.checkFundingPayments();
    expect(h.mismatches()).toHaveLength(3);
  });

  it('lets a difference within the configured tolerance pass', async () => {
    const h = await liveOnSimulatedVenue({ config: { fundingMismatchToleranceUsd: new Decimal(1) } });
    await h.store.appendLedger([booking(h.position.id, h.position.openedAtMs + HOUR_MS, '0.5', ':again')]);
    await h.pass(2);
    const [result] = await h.engine.checkFundingPayments();
    expect(result?.outcome).toBe('match');
    expect(result?.outcome === 'match' && result.comparison.differenceUsd.toString()).toBe('-0.5');
    expect(h.mismatches()).toEqual([]);
  });

  it('does not ask the venue about paper hedges', async () => {
    let asked = 0;
    const h = await liveOnSimulatedVenue({
      mode: 'paper',
      venue: (sim) =>
        withFundingHistory(sim, (real) => (symbol, sinceMs) => {
          asked += 1;
          return real(symbol, sinceMs);
        }),
    });
    await h.pass(3);
    expect(await h.engine.checkFundingPayments()).toEqual([]);
    expect(asked).toBe(0);
  });

  it('reports a venue without funding history as unsupported, with no alert, check after check', async () => {
    const h = await liveOnSimulatedVenue({
      venue: (sim) => withFundingHistory(sim, () => () => Promise.reject(new VenueError('simulated', 'VENUE_UNSUPPORTED', 'simulated keeps no funding history', 'refuse'))),
    });
    for (let i = 0; i < 3; i += 1) {
      await h.pass(1);
      const results = await h.engine.checkFundingPayments();
      expect(results.map((r) => r.outcome)).toEqual([i === 0 ? 'skipped' : 'unsupported']);
    }
    expect(h.mismatches()).toEqual([]);
    expect((await h.engine.status()).positions[0]?.venueFunding).toBeNull();
  });

  it('tries again at the next check when reading the history failed', async () => {
    let failures = 1;
    const h = await liveOnSimulatedVenue({
      venue: (sim) =>
        withFundingHistory(sim, (real) => (symbol, sinceMs) =>
          failures-- > 0 ? Promise.reject(new VenueError('simulated', 'VENUE_RATE_LIMITED', 'rate limit hit', 'retry')) : real(symbol, sinceMs),
        ),
    });
    await h.pass(2);
    expect((await h.engine.checkFundingPayments()).map((r) => r.outcome)).toEqual(['failed']);
    expect((await h.engine.checkFundingPayments()).map((r) => r.outcome)).toEqual(['match']);
  });
});

describe('funding payments against the ledger, recorded venue answers (ccxt)', () => {
  for (const venue of VENUE_CASES) {
    describe(venue.venue, () => {
      /** The fixtures' BTC short, with the ledger's bookings at the three funding times. */
      async function startLive(bookings: [hour: number, amount: string][], unsupported = false) {
        const exchange = await exchangeOver(venue.venue, venue.replayer(), { clock: new ManualClock(FUNDING.recordedAtMs) });
        if (unsupported) {
          await exchange.loadInstruments();
          (exchange as unknown as { perp: { client: { has: Record<string, unknown> } } }).perp.client.has['fetchFundingHistory'] = false;
        }
        const store = new MemoryStore();
        await store.setMode('live');
        const position = hedge({ lastFundingMs: Date.UTC(2026, 0, 2) });
        await store.putPosition(position);
        await store.appendLedger(bookings.map(([hour, amount]) => booking(position.id, Date.UTC(2026, 0, 1, hour), amount)));
        const engine = await Engine.create({ config: testEngineConfig(), clock: new ManualClock(FUNDING.recordedAtMs), store, exchange, liveExchange: exchange, logger: silent });
        const events: EngineEvent[] = [];
        engine.subscribe((e) => events.push(e));
        await engine.start();
        return { engine, mismatches: () => events.filter((e) => e.type === 'funding_mismatch') };
      }

      it('matches the payments the venue recorded with the ledger that booked the same', async () => {
        const { engine, mismatches } = await startLive([[8, '0.09501234'], [16, '-0.01900231'], [24, '0.07424031']]);
        const [result] = await engine.checkFundingPayments();
        expect(result?.outcome).toBe('match');
        if (result?.outcome !== 'match') return;
        expect([result.comparison.bookings, result.comparison.payments]).toEqual([3, 3]);
        expect([result.comparison.ledgerUsd, result.comparison.venueUsd].map(String)).toEqual([FUNDING.totalUsd, FUNDING.totalUsd]);
        expect(mismatches()).toEqual([]);
      });

      it('alerts when the ledger booked a payment with the wrong sign', async () => {
        const { engine, mismatches } = await startLive([[8, '0.09501234'], [16, '0.01900231'], [24, '0.07424031']]);
        expect((await engine.checkFundingPayments())[0]?.outcome).toBe('mismatch');
        const [event] = mismatches();
        expect(event?.type === 'funding_mismatch' && [event.comparison.ledgerUsd, event.comparison.venueUsd, event.comparison.differenceUsd].map(String)).toEqual([
          '0.18825496',
          FUNDING.totalUsd,
          '-0.03800462',
        ]);
      });

      it('cannot compare where ccxt gives the venue no funding history, and says so without an alert', async () => {
        const { engine, mismatches } = await startLive([[8, '0.09501234']], true);
        expect((await engine.checkFundingPayments()).map((r) => r.outcome)).toEqual(['unsupported']);
        expect(mismatches()).toEqual([]);
      });
    });
  }
});
