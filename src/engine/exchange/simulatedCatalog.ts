import type { Coin } from '../domain/types.js';

/**
 * Reference markets for the simulated venue, modelled on the largest USDT venues: spot and
 * linear-perp lot sizes, price ticks and minimum notionals differ per leg, as they do in reality,
 * so sizing has to satisfy both. Values are strings: they become Decimals on load.
 */
export interface SimCoin {
  coin: Coin;
  price: string;
  priceTick: string;
  spotQtyStep: string;
  perpQtyStep: string;
  spotMinNotional: string;
  perpMinNotional: string;
  /** Funding rate per interval at start (fraction, 0.0001 = 0.01 %). */
  fundingRate: string;
  fundingIntervalHours: 1 | 4 | 8;
}

export const SIM_CATALOG: readonly SimCoin[] = [
  { coin: 'BTC', price: '95000', priceTick: '0.1', spotQtyStep: '0.00001', perpQtyStep: '0.001', spotMinNotional: '5', perpMinNotional: '100', fundingRate: '0.0001', fundingIntervalHours: 8 },
  { coin: 'ETH', price: '3400', priceTick: '0.01', spotQtyStep: '0.0001', perpQtyStep: '0.001', spotMinNotional: '5', perpMinNotional: '20', fundingRate: '0.00012', fundingIntervalHours: 8 },
  { coin: 'SOL', price: '190', priceTick: '0.01', spotQtyStep: '0.001', perpQtyStep: '1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00015', fundingIntervalHours: 8 },
  { coin: 'BNB', price: '650', priceTick: '0.01', spotQtyStep: '0.001', perpQtyStep: '0.01', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00008', fundingIntervalHours: 8 },
  { coin: 'XRP', price: '2.3', priceTick: '0.0001', spotQtyStep: '0.1', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.0001', fundingIntervalHours: 8 },
  { coin: 'DOGE', price: '0.32', priceTick: '0.00001', spotQtyStep: '1', perpQtyStep: '1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.0002', fundingIntervalHours: 4 },
  { coin: 'ADA', price: '0.9', priceTick: '0.0001', spotQtyStep: '0.1', perpQtyStep: '1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00005', fundingIntervalHours: 8 },
  { coin: 'AVAX', price: '35', priceTick: '0.001', spotQtyStep: '0.01', perpQtyStep: '1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00011', fundingIntervalHours: 4 },
  { coin: 'LINK', price: '20', priceTick: '0.001', spotQtyStep: '0.01', perpQtyStep: '0.01', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00009', fundingIntervalHours: 8 },
  { coin: 'DOT', price: '6.5', priceTick: '0.001', spotQtyStep: '0.01', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00007', fundingIntervalHours: 8 },
  { coin: 'LTC', price: '105', priceTick: '0.01', spotQtyStep: '0.001', perpQtyStep: '0.001', spotMinNotional: '5', perpMinNotional: '20', fundingRate: '0.0001', fundingIntervalHours: 8 },
  { coin: 'TRX', price: '0.25', priceTick: '0.00001', spotQtyStep: '0.1', perpQtyStep: '1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '-0.00003', fundingIntervalHours: 8 },
  { coin: 'ATOM', price: '6.2', priceTick: '0.001', spotQtyStep: '0.01', perpQtyStep: '0.01', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00006', fundingIntervalHours: 8 },
  { coin: 'NEAR', price: '5', priceTick: '0.001', spotQtyStep: '0.1', perpQtyStep: '1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00013', fundingIntervalHours: 4 },
  { coin: 'APT', price: '9', priceTick: '0.001', spotQtyStep: '0.01', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00016', fundingIntervalHours: 4 },
  { coin: 'ARB', price: '0.75', priceTick: '0.0001', spotQtyStep: '0.1', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00004', fundingIntervalHours: 8 },
  { coin: 'OP', price: '1.8', priceTick: '0.0001', spotQtyStep: '0.01', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00005', fundingIntervalHours: 8 },
  { coin: 'SUI', price: '3.8', priceTick: '0.0001', spotQtyStep: '0.1', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.0000125', fundingIntervalHours: 1 },
  { coin: 'TON', price: '5.3', priceTick: '0.0001', spotQtyStep: '0.01', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00009', fundingIntervalHours: 8 },
  { coin: 'FIL', price: '5', priceTick: '0.001', spotQtyStep: '0.01', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '-0.00006', fundingIntervalHours: 4 },
  { coin: 'INJ', price: '22', priceTick: '0.001', spotQtyStep: '0.01', perpQtyStep: '0.1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00003', fundingIntervalHours: 1 },
  { coin: 'WIF', price: '2.1', priceTick: '0.0001', spotQtyStep: '0.01', perpQtyStep: '1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00005', fundingIntervalHours: 1 },
  { coin: 'PEPE', price: '0.000018', priceTick: '0.0000000001', spotQtyStep: '1', perpQtyStep: '100', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00015', fundingIntervalHours: 4 },
  { coin: 'SEI', price: '0.45', priceTick: '0.0001', spotQtyStep: '0.1', perpQtyStep: '1', spotMinNotional: '5', perpMinNotional: '5', fundingRate: '0.00018', fundingIntervalHours: 4 },
];

export const SIM_SPOT_TAKER_FEE = '0.001';
export const SIM_SPOT_MAKER_FEE = '0.001';
export const SIM_PERP_TAKER_FEE = '0.0005';
export const SIM_PERP_MAKER_FEE = '0.0002';
export const SIM_MAX_QTY_NOTIONAL_USD = '5000000';
