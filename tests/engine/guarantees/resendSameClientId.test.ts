import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/index.js';
import { ALICE, controlled } from './support.js';

// A venue that dedups client ids only among open orders (Binance spot: "unique among open orders")
// fills a second order under an id whose first order already filled: the bot must never send one twice.
describe('recovery never sends the same client order id twice', () => {
  it('close: the spot sell and recovery round 1’s spot sell are lost in transit; round 2 sends under an id of its own', async () => {
    let closeId = '';
    const t = await controlled((r) => closeId !== '' && (r.clientOrderId === `${closeId}s` || r.clientOrderId === `${closeId}r1s`));
    const open = await t.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    await t.engine.confirm(open.operation.id, ALICE);
    const close = await t.engine.previewClose('ETH', ALICE);
    closeId = close.operation.id;
    await t.run(t.engine.confirm(closeId, ALICE));
    await t.engine.refreshPrices();
    await t.run(t.engine.checkDeltas());
    await t.engine.refreshPrices();
    await t.run(t.engine.checkDeltas());
    expect(t.ctl.sends.filter((c) => c === `${closeId}r1s`)).toHaveLength(1);
    expect(t.ctl.sends).toContain(`${closeId}r2s`);
    expect(new Set(t.ctl.sends).size).toBe(t.ctl.sends.length);
  });

  it('open: recovery round 1’s perp undo is lost in transit; round 2 never sends that id again', async () => {
    let openId = '';
    const t = await controlled((r) => openId !== '' && (r.clientOrderId === `${openId}s` || r.clientOrderId === `${openId}r1pu`));
    const open = await t.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    openId = open.operation.id;
    await t.run(t.engine.confirm(openId, ALICE));
    await t.engine.refreshPrices();
    await t.run(t.engine.checkDeltas());
    await t.engine.refreshPrices();
    await t.run(t.engine.checkDeltas());
    expect(t.ctl.sends.filter((c) => c === `${openId}r1pu`)).toHaveLength(1);
    expect(new Set(t.ctl.sends).size).toBe(t.ctl.sends.length);
  });
});
