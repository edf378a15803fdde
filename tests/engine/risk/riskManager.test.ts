import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { RiskLimitError, type RiskReason } from '../../../src/engine/domain/errors.js';
import type { Position } from '../../../src/engine/domain/types.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import type { Balances } from '../../../src/engine/execution/port.js';
import { InstrumentInfo } from '../../../src/engine/market/instrumentInfo.js';
import { TickerService } from '../../../src/engine/market/tickerService.js';
import { type OpenRequestForRisk, RiskManager } from '../../../src/engine/risk/riskManager.js';

const d = (v: string | number | Decimal): Decimal => new Decimal(v);

const limits = {
  maxPositionNotionalUsd: d(10_000),
  maxTotalExposureUsd: d(25_000),
  maxOpenPositions: 3,
  perpLeverage: d(2),
};

function openPosition(id: string, coin: string, perpQty: string, perpEntry: string): Position {
  const leg = (kind: 'spot' | 'perp') => ({
    kind,
    symbol: kind === 'spot' ? `${coin}/USDT` : `${coin}/USDT:USDT`,
    side: kind === 'spot' ? ('buy' as const) : ('sell' as const),
    qty: d(perpQty),
    entryPrice: d(perpEntry),
    entryFeeUsd: d(0),
  });
  return {
    id,
    coin,
    mode: 'paper',
    spotLeg: leg('spot'),
    perpLeg: leg('perp'),
    openedAtMs: 0,
    openedBy: 'Ann',
    openOperationId: `op-${id}`,
    status: 'open',
    lastFundingMs: 0,
  };
}

const balances = (spotUsdt: Decimal | number, perpUsdt: Decimal | number): Balances => ({
  spot: new Map([['USDT', d(spotUsdt)]]),
  perp: new Map([['USDT', d(perpUsdt)]]),
});

function reasonOf(check: () => void): RiskReason | 'passed' {
  try {
    check();
    return 'passed';
  } catch (err) {
    if (err instanceof RiskLimitError) {
      expect(err.code).toBe(`RISK_${err.reason}`);
      expect(err.reaction).toBe('refuse');
      return err.reason;
    }
    throw err;
  }
}

async function setup() {
  const clock = new ManualClock();
  const exchange = new SimulatedExchange({ clock, seed: 9 });
  const info = await InstrumentInfo.load(exchange);
  const tickers = new TickerService(exchange, clock);
  const risk = new RiskManager(limits, tickers);
  return { clock, info, tickers, risk };
}

describe('RiskManager.checkOpen', () => {
  it('runs its checks in a fixed order: each denial shows only once every earlier check passes', async () => {
    const { info, tickers, risk } = await setup();
    const pair = info.pair('BTC');
    // Positions with no fresh mark count at their entry price: 11 000 USD each.
    const others = [openPosition('e1', 'ETH', '11', '1000'), openPosition('e2', 'SOL', '11', '1000'), openPosition('e3', 'XRP', '11', '1000')];
    const request: OpenRequestForRisk = {
      pair,
      notionalUsd: d(20_000),
      openPositions: [openPosition('b1', 'BTC', '0.01', '95000'), ...others],
      balances: balances(0, 0),
    };
    const check = () => risk.checkOpen(request);

    expect(reasonOf(check)).toBe('PRICE_STALE');
    await tickers.refresh([pair.spot.symbol]);
    expect(reasonOf(check)).toBe('PRICE_STALE');
    await tickers.refresh([pair.spot.symbol, pair.perp.symbol]);

    expect(reasonOf(check)).toBe('POSITION_EXISTS');
    request.openPositions = others;

    expect(reasonOf(check)).toBe('MAX_POSITION_NOTIONAL');
    request.notionalUsd = d(5_000);

    expect(reasonOf(check)).toBe('MAX_OPEN_POSITIONS');
    request.openPositions = others.slice(0, 2);

    // 22 000 open + 5 000 asked > 25 000.
    expect(reasonOf(check)).toBe('MAX_TOTAL_EXPOSURE');
    request.openPositions = others.slice(0, 1);

    expect(reasonOf(check)).toBe('SPOT_BALANCE');
    request.balances = balances(d(5_000).mul('1.001'), 0);

    expect(reasonOf(check)).toBe('PERP_MARGIN');
    // Free margin = perp USDT − cost of buying back 11 000 − its margin 5 500; the short needs 2 500 + 2.5 fee.
    const marginNeeded = d(11_000).plus(5_500).plus(2_500).plus('2.5');
    request.balances = balances(d(5_000).mul('1.001'), marginNeeded.minus('0.01'));
    expect(reasonOf(check)).toBe('PERP_MARGIN');
    request.balances = balances(d(5_000).mul('1.001'), marginNeeded);

    expect(reasonOf(check)).toBe('passed');
  });

  it('counts a unified account’s one USDT wallet once: the spot leg and the short both come out of it', async () => {
    const { info, tickers, risk } = await setup();
    const pair = info.pair('ETH');
    await tickers.refresh([pair.spot.symbol, pair.perp.symbol]);
    // 5 000 per leg at 2x: the spot leg needs 5 005 (with its 0.1 % fee), the short 2 500 + 2.5.
    const spotNeeded = d(5_005);
    const marginNeeded = d('2502.5');
    const wallet = (usdt: Decimal): Balances => ({ ...balances(usdt, usdt), sharedQuote: true });
    const check = (b: Balances) => () => risk.checkOpen({ pair, notionalUsd: d(5_000), openPositions: [], balances: b });
    // Two accounts with 5 005 each would pass; one wallet of 5 005 cannot carry both legs.
    expect(reasonOf(check(balances(spotNeeded, spotNeeded)))).toBe('passed');
    expect(reasonOf(check(wallet(spotNeeded)))).toBe('PERP_MARGIN');
    expect(reasonOf(check(wallet(spotNeeded.plus(marginNeeded).minus('0.01'))))).toBe('PERP_MARGIN');
    expect(reasonOf(check(wallet(spotNeeded.plus(marginNeeded))))).toBe('passed');
    expect(() => risk.checkOpen({ pair, notionalUsd: d(5_000), openPositions: [], balances: wallet(d(6_000)) })).toThrow(
      "the account's one USDT wallet (unified) has 6000.00 USDT free; the spot leg needs 5005.00 and the short 2502.50 USDT of it",
    );
  });

  it('puts a stale price first even when nothing else would pass', async () => {
    const { info, tickers, clock, risk } = await setup();
    const pair = info.pair('ETH');
    await tickers.refresh([pair.spot.symbol, pair.perp.symbol]);
    await clock.advance(60_001);
    const request = { pair, notionalUsd: d(1e9), openPositions: [openPosition('x', 'ETH', '1', '1')], balances: balances(0, 0) };
    expect(reasonOf(() => risk.checkOpen(request))).toBe('PRICE_STALE');
  });

  it('accepts the limits themselves and refuses one cent over', async () => {
    const { info, tickers, risk } = await setup();
    const pair = info.pair('ETH');
    await tickers.refresh([pair.spot.symbol, pair.perp.symbol]);
    const rich = balances(1e9, 1e9);
    const at = (notional: Decimal, openPositions: Position[] = []) => () =>
      risk.checkOpen({ pair, notionalUsd: notional, openPositions, balances: rich });
    expect(reasonOf(at(d(10_000)))).toBe('passed');
    expect(reasonOf(at(d('10000.01')))).toBe('MAX_POSITION_NOTIONAL');
    const two = [openPosition('a', 'SOL', '10', '1000'), openPosition('b', 'XRP', '5', '1000')];
    expect(reasonOf(at(d(10_000), two))).toBe('passed');
    expect(reasonOf(at(d('10000.01'), two))).toBe('MAX_POSITION_NOTIONAL');
    const three = [...two, openPosition('c', 'DOGE', '1', '1')];
    expect(reasonOf(at(d(1), three))).toBe('MAX_OPEN_POSITIONS');
  });

  it('needs the spot notional plus the taker fee in the spot account', async () => {
    const { info, tickers, risk } = await setup();
    const pair = info.pair('ETH');
    await tickers.refresh([pair.spot.symbol, pair.perp.symbol]);
    const needed = d(1_000).mul(pair.spot.takerFeeRate.plus(1));
    const check = (spot: Decimal) => () => risk.checkOpen({ pair, notionalUsd: d(1_000), openPositions: [], balances: balances(spot, 1e9) });
    expect(reasonOf(check(needed))).toBe('passed');
    expect(reasonOf(check(needed.minus('0.000001')))).toBe('SPOT_BALANCE');
  });

  it('values open shorts at the fresh mark when there is one', async () => {
    const { tickers, risk } = await setup();
    await tickers.refresh(['ETH/USDT:USDT']);
    const mark = tickers.get('ETH/USDT:USDT').last;
    const positions = [openPosition('a', 'ETH', '2', '1'), openPosition('b', 'SOL', '3', '150')];
    expect(risk.totalExposureUsd(positions).eq(mark.mul(2).plus(450))).toBe(true);
    expect(risk.perpEquityUsd(balances(0, 10_000), positions).eq(d(10_000).minus(mark.mul(2)).minus(450))).toBe(true);
  });
});
