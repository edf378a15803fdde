import { describe, expect, it } from 'vitest';
import { Decimal, type Requester } from '../../src/engine/index.js';
import { scheduledJobs } from '../../src/jobs/schedules.js';
import { startTestEngine } from '../support/engineHarness.js';

const HOUR_MS = 3_600_000;
const ALICE: Requester = { userId: 'u1', name: 'alice', chatId: 'ops' };

describe('funding-scan job', () => {
  it('books funding and checks it against what the venue paid, alerting a mismatch', async () => {
    const h = await startTestEngine({ live: true });
    const [fundingScan] = scheduledJobs(60_000, 15_000);
    expect(fundingScan?.name).toBe('funding-scan');
    const preview = await h.engine.previewOpen('SUI', new Decimal(2000), ALICE);
    const { position } = await h.engine.confirm(preview.operation.id, ALICE);
    const run = async () => {
      await h.clock.advance(HOUR_MS);
      await h.engine.refreshPrices();
      return fundingScan!.run(h.engine);
    };
    expect(await run()).toEqual({ booked: 1, fundingChecks: ['SUI skipped'] });
    expect(await run()).toEqual({ booked: 1, fundingChecks: ['SUI match'] });
    // The ledger books a funding time twice.
    const twice = (await h.store.listLedger()).find((e) => e.kind === 'funding' && e.ref === position?.id);
    await h.store.appendLedger([{ ...twice!, id: `${twice!.id}:again` }]);
    expect(await run()).toEqual({ booked: 1, fundingChecks: ['SUI mismatch'] });
    expect(h.events.filter((e) => e.type === 'funding_mismatch')).toHaveLength(1);
  });

  it('leaves paper hedges unchecked', async () => {
    const h = await startTestEngine();
    const [fundingScan] = scheduledJobs(60_000, 15_000);
    const preview = await h.engine.previewOpen('SUI', new Decimal(2000), ALICE);
    await h.engine.confirm(preview.operation.id, ALICE);
    await h.clock.advance(2 * HOUR_MS);
    await h.engine.refreshPrices();
    expect(await fundingScan!.run(h.engine)).toEqual({ booked: 2, fundingChecks: [] });
  });
});
