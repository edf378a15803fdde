import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/index.js';
import { ALICE, controlled } from './support.js';

describe('what recovery says is true', () => {
  it('open: perp filled, spot lost; recovery round 1’s perp undo answer is lost and it fills later; round 2 says it was reversed, not that nothing filled', async () => {
    let openId = '';
    const t = await controlled((r) => openId !== '' && (r.clientOrderId === `${openId}s` || r.clientOrderId === `${openId}r1pu`));
    const open = await t.engine.previewOpen('ETH', new Decimal(2000), ALICE);
    openId = open.operation.id;
    await t.run(t.engine.confirm(openId, ALICE));
    await t.engine.refreshPrices();
    await t.run(t.engine.checkDeltas());
    await t.ctl.land(`${openId}r1pu`); // the perp undo reaches the venue and fills
    await t.engine.refreshPrices();
    await t.run(t.engine.checkDeltas());
    const op = await t.store.getOperation(openId);
    const said = t.events.filter((e) => e.type === 'recovery').map((e) => ('outcome' in e ? String(e.outcome) : ''));
    expect(said.join(' ')).not.toMatch(/no leg had filled/);
    expect(said.join(' ')).toMatch(/already reversed/);
    expect(op?.state).toBe('rolled_back');
  });
});
