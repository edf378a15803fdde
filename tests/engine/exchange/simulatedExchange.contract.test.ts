import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { exchangeContract } from './exchange.contract.js';

const HOUR_MS = 3_600_000;

exchangeContract('SimulatedExchange', async () => {
  const clock = new ManualClock();
  const exchange = new SimulatedExchange({ clock, seed: 7 });
  return {
    exchange,
    order: { clientOrderId: 'opcontract1s', coin: 'BTC', kind: 'spot', symbol: 'BTC/USDT', side: 'buy', qty: new Decimal('0.01'), reduceOnly: false },
    holdShortAcrossFunding: async () => {
      const sinceMs = clock.nowMs();
      await exchange.placeOrder({ clientOrderId: 'opcontract1p', coin: 'BTC', kind: 'perp', symbol: 'BTC/USDT:USDT', side: 'sell', qty: new Decimal('0.01'), reduceOnly: false });
      await clock.advance(17 * HOUR_MS);
      return { symbol: 'BTC/USDT:USDT', sinceMs };
    },
  };
});
