import { ORDERS, VENUE_CASES, exchangeOver } from './ccxtVenueFixtures.js';
import { exchangeContract } from './exchange.contract.js';

for (const venue of VENUE_CASES) {
  exchangeContract(`CcxtExchange on ${venue.venue} (recorded answers)`, async () => {
    const replayer = venue.replayer();
    venue.arrange.spotFilled(replayer);
    return { exchange: await exchangeOver(venue.venue, replayer), order: ORDERS.spotBuy };
  });
}
