import { ManualClock } from '../../../src/engine/domain/clock.js';
import { FUNDING, ORDERS, VENUE_CASES, exchangeOver } from './ccxtVenueFixtures.js';
import { exchangeContract } from './exchange.contract.js';

for (const venue of VENUE_CASES) {
  exchangeContract(`CcxtExchange on ${venue.venue} (recorded answers)`, async () => {
    const replayer = venue.replayer();
    venue.arrange.spotFilled(replayer);
    // At the time the funding history was recorded; the venue's own answers carry every other time.
    const exchange = await exchangeOver(venue.venue, replayer, { clock: new ManualClock(FUNDING.recordedAtMs) });
    return {
      exchange,
      order: ORDERS.spotBuy,
      // The recorded account history holds the payments on the BTC short.
      holdShortAcrossFunding: () => Promise.resolve({ symbol: FUNDING.symbol, sinceMs: FUNDING.openedAtMs }),
    };
  });
}
