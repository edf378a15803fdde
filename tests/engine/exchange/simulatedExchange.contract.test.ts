import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { exchangeContract } from './exchange.contract.js';

exchangeContract('SimulatedExchange', async () => ({
  exchange: new SimulatedExchange({ clock: new ManualClock(), seed: 7 }),
  order: { clientOrderId: 'opcontract1s', coin: 'BTC', kind: 'spot', symbol: 'BTC/USDT', side: 'buy', qty: new Decimal('0.01'), reduceOnly: false },
}));
