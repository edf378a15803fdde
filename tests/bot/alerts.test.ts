import { describe, expect, it } from 'vitest';
import { setMute, toAlert } from '../../src/bot/alerts.js';
import { formatEvent, formatStatus } from '../../src/bot/format.js';
import { Decimal, type EngineEvent, type FundingComparison, type Position, type StatusReport } from '../../src/engine/index.js';
import { livePosition } from '../support/engine.js';
import { startTestEngine } from '../support/engineHarness.js';

const HOUR_MS = 3_600_000;
const F = Date.UTC(2026, 0, 1, 8);

function position(): Position {
  return { ...livePosition('BTC', '0.01', '0.01', F - HOUR_MS), id: 'pmk3x9', lastFundingMs: F + 16 * HOUR_MS };
}

function mismatch(overrides: Partial<FundingComparison> = {}): EngineEvent {
  const comparison: FundingComparison = {
    position: position(),
    fromMs: F,
    toMs: F + 16 * HOUR_MS,
    bookings: 3,
    payments: 2,
    ledgerUsd: new Decimal('0.28502465'),
    venueUsd: new Decimal('0.19002234'),
    differenceUsd: new Decimal('-0.09500231'),
    toleranceUsd: new Decimal('0.0157004930'),
    withinTolerance: false,
    unpaidTimesMs: [F + 8 * HOUR_MS],
    unbookedTimesMs: [],
    ...overrides,
  };
  return { type: 'funding_mismatch', critical: true, comparison };
}

describe('funding mismatch alert', () => {
  it('names the hedge, both sums, the difference and the funding times compared', () => {
    expect(formatEvent(mismatch()).split('\n')).toEqual([
      '🚨 FUNDING MISMATCH BTC hedge pmk3x9: the venue paid +0.1900 USD, the ledger booked +0.2850 USD',
      '  difference -0.0950 USD (venue − ledger; tolerance 0.0157)',
      '  funding times 2026-01-01 08:00 → 2026-01-02 00:00 UTC: 3 booked, 2 paid by the venue',
      '  booked, not paid by the venue: 2026-01-01 16:00',
      "  The ledger is left as booked (/status shows the venue's figure); check the venue's funding history.",
    ]);
  });

  it('lists payments the ledger never booked, a few at most', () => {
    const text = formatEvent(mismatch({ unpaidTimesMs: [], unbookedTimesMs: [0, 1, 2, 3, 4].map((h) => F + h * HOUR_MS), differenceUsd: new Decimal('0.5') }));
    expect(text).toContain('difference +0.5000 USD');
    expect(text).toContain('paid by the venue, not booked: 2026-01-01 08:00, 2026-01-01 09:00, 2026-01-01 10:00 and 2 more');
    expect(text).not.toContain('booked, not paid');
  });

  it('goes out as a critical alert even while funding alerts are muted', async () => {
    const h = await startTestEngine();
    await setMute(h.engine, 'funding', Date.now() + 60_000);
    const alert = await toAlert(h.engine, mismatch());
    expect(alert).toMatchObject({ type: 'funding_mismatch', critical: true });
    expect(alert?.text).toMatch(/^🚨 FUNDING MISMATCH BTC hedge pmk3x9/);
  });
});

describe('/status with the venue-paid funding', () => {
  it('shows the venue figure of a checked live hedge next to the ledger funding', async () => {
    const h = await startTestEngine();
    const report: StatusReport = await h.engine.status();
    const view = (venueFunding: { paidUsd: Decimal; throughMs: number; sinceMs: number | null } | null) => ({
      position: position(),
      spotMark: new Decimal(95_100),
      perpMark: new Decimal(95_120),
      delta: { coin: 'BTC', spotQty: new Decimal('0.01'), perpQty: new Decimal('0.01'), driftQty: new Decimal(0), driftBps: new Decimal(0), toleranceBps: new Decimal(50), withinTolerance: true },
      fundingEarnedUsd: new Decimal('0.2851'),
      unrealisedPnlUsd: new Decimal('-1.2'),
      liquidationPrice: new Decimal(189_525),
      liquidationSource: 'venue' as const,
      liquidationDistancePct: new Decimal('99.2'),
      venueFunding,
    });
    const checked = formatStatus({ ...report, mode: 'live', positions: [view({ paidUsd: new Decimal('0.19002234'), throughMs: F + 16 * HOUR_MS, sinceMs: null })] });
    expect(checked).toContain('funding +0.29 · uPnL -1.20 USD\n  venue-paid funding +0.19 USD to 2026-01-02 00:00 UTC');
    // A hedge older than the compared window says where the window starts.
    const windowed = formatStatus({ ...report, mode: 'live', positions: [view({ paidUsd: new Decimal('0.19002234'), throughMs: F + 16 * HOUR_MS, sinceMs: F })] });
    expect(windowed).toContain('venue-paid funding +0.19 USD from 2026-01-01 08:00 to 2026-01-02 00:00 UTC');
    expect(formatStatus({ ...report, mode: 'live', positions: [view(null)] })).not.toContain('venue-paid');
  });
});
