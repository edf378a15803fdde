import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { OrderTimeoutError } from '../../../src/engine/domain/errors.js';
import type { OrderRequest, OrderResult } from '../../../src/engine/domain/types.js';
import type { Executor } from '../../../src/engine/execution/port.js';
import { buildHarness, operation } from '../../support/engine.js';

/** A venue that fills the perp order but loses the answer, and whose first lookup fails too. */
function losesPerpAnswer(inner: Executor): Executor & { lookups: number } {
  let lookups = 0;
  return {
    get mode() {
      return inner.mode;
    },
    get lookups() {
      return lookups;
    },
    async execute(request: OrderRequest): Promise<OrderResult> {
      const fill = await inner.execute(request);
      if (request.kind === 'perp' && request.side === 'sell') throw new OrderTimeoutError('connection reset after the order was sent');
      return fill;
    },
    async lookup(symbol: string, clientOrderId: string) {
      lookups += 1;
      if (lookups === 1) throw new Error('network down');
      return inner.lookup(symbol, clientOrderId);
    },
    balances: () => inner.balances(),
  };
}

describe('an order whose outcome is unknown', () => {
  it('is looked up (again after a failing lookup), found filled, and the hedge opens without reversing anything', async () => {
    let venue: ReturnType<typeof losesPerpAnswer> | null = null;
    const h = await buildHarness({
      wrap: (inner) => {
        venue = losesPerpAnswer(inner);
        return venue;
      },
    });
    const op = operation({ id: 'opunknown01', coin: 'ETH', qty: new Decimal('0.3'), nowMs: h.clock.nowMs() });
    await h.store.putOperation(op);
    const opening = h.manager.open(op.id);
    // The failed lookup waits 500 ms of clock time before trying again.
    for (let i = 0; i < 5; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      await h.clock.advance(500);
    }
    const position = await opening;
    expect(position.perpLeg.qty.toString()).toBe('0.3');
    expect((await h.store.getOperation(op.id))?.state).toBe('open');
    expect(h.executor.log.map((o) => o.clientOrderId).filter((id) => id.endsWith('u'))).toEqual([]);
    expect((venue as unknown as { lookups: number }).lookups).toBe(2);
  });
});
