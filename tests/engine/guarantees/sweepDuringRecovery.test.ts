import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/index.js';
import { ALICE, controlled } from './support.js';

describe('the late-fill sweep never takes back a fill that a later recovery of the same operation counts', () => {
  it('close: spot sell lost in transit; recovery round 1’s sell is lost too and the original lands; the sweep leaves it to recovery, which counts it', async () => {
    let closeId = '';
    const t = await controlled((r, ctl) => {
      if (!closeId) return false;
      if (r.clientOrderId === `${closeId}s`) return true; // the close's spot sell: lost in transit for now
      if (r.clientOrderId === `${closeId}r1s`) {
        void ctl.land(`${closeId}s`); // the original spot sell reaches the venue now and fills
        return true; // recovery's own spot sell is lost in transit (never lands)
      }
      return false;
    });
    const open = await t.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const { position } = await t.engine.confirm(open.operation.id, ALICE);
    const close = await t.engine.previewClose('ETH', ALICE);
    closeId = close.operation.id;
    expect(await t.run(t.engine.confirm(close.operation.id, ALICE))).toMatchObject({ code: 'ORDER_OUTCOME_UNKNOWN' });

    await t.engine.refreshPrices();
    await t.run(t.engine.checkDeltas()); // recovery 1 leaves it placing; the sweep leaves the sell to recovery
    expect((await t.store.getOperation(closeId))?.state).toBe('placing');
    expect(t.events.map((e) => e.type)).not.toContain('late_fill');

    await t.engine.refreshPrices();
    await t.run(t.engine.checkDeltas()); // recovery 2
    const state = (await t.store.getOperation(closeId))?.state;
    const held = await t.heldQty();
    // If the records say closed, the venue must not still hold the spot leg.
    if (state === 'closed') expect(held.spot).toMatch(/^0(\.0+)?$/);
    expect({ state, held }).not.toEqual({ state: 'closed', held: { spot: position?.spotLeg.qty.toString(), perp: '0' } });
  });
});
