import { type Decimal, ZERO } from '../domain/decimal.js';
import { PriceUnavailableError, RiskLimitError } from '../domain/errors.js';
import { QUOTE_ASSET, type Position } from '../domain/types.js';
import type { Balances } from '../execution/port.js';
import type { HedgePair } from '../market/instrumentInfo.js';
import type { TickerService } from '../market/tickerService.js';

export interface RiskLimits {
  maxPositionNotionalUsd: Decimal;
  maxTotalExposureUsd: Decimal;
  maxOpenPositions: number;
  /** Perp leverage: the margin a short needs is its notional divided by this. */
  perpLeverage: Decimal;
}

export interface OpenRequestForRisk {
  pair: HedgePair;
  notionalUsd: Decimal;
  openPositions: readonly Position[];
  /**
   * Opens already confirmed and not yet booked as positions: their notional is reserved, so they
   * count against every limit and are taken out of the free balances as if they had filled.
   */
  reserved?: readonly { coin: string; notionalUsd: Decimal }[];
  balances: Balances;
}

/**
 * Pre-trade checks in a fixed order; the first that fails denies with its reason code and a
 * sentence the user can act on.
 */
export class RiskManager {
  constructor(
    private readonly limits: RiskLimits,
    private readonly tickers: TickerService,
  ) {}

  checkOpen(request: OpenRequestForRisk): void {
    const { pair, notionalUsd, openPositions, balances } = request;
    const reserved = request.reserved ?? [];
    const usd = (d: Decimal): string => d.toFixed(2);
    this.checkPrices([pair.spot.symbol, pair.perp.symbol]);
    const existing = openPositions.find((p) => p.coin === pair.coin);
    if (existing) {
      throw new RiskLimitError('POSITION_EXISTS', `${pair.coin} already has an open hedge (${existing.id}); /close ${pair.coin} first`);
    }
    if (reserved.some((r) => r.coin === pair.coin)) {
      throw new RiskLimitError('POSITION_EXISTS', `${pair.coin} already has an open being placed; wait for it, then /status`);
    }
    const reservedUsd = reserved.reduce((sum, r) => sum.plus(r.notionalUsd), ZERO);
    if (notionalUsd.gt(this.limits.maxPositionNotionalUsd)) {
      throw new RiskLimitError(
        'MAX_POSITION_NOTIONAL',
        `${usd(notionalUsd)} USD per leg is above the limit of ${usd(this.limits.maxPositionNotionalUsd)} USD per position`,
      );
    }
    const holding = openPositions.length + reserved.length;
    if (holding >= this.limits.maxOpenPositions) {
      const placing = reserved.length > 0 ? ` (${reserved.length} of them being placed)` : '';
      throw new RiskLimitError('MAX_OPEN_POSITIONS', `already ${holding} open hedges${placing}, the limit is ${this.limits.maxOpenPositions}; close one first`);
    }
    const exposure = this.totalExposureUsd(openPositions).plus(reservedUsd);
    if (exposure.plus(notionalUsd).gt(this.limits.maxTotalExposureUsd)) {
      throw new RiskLimitError(
        'MAX_TOTAL_EXPOSURE',
        `total exposure would be ${usd(exposure.plus(notionalUsd))} USD, above the limit of ${usd(this.limits.maxTotalExposureUsd)} USD (now ${usd(exposure)} USD)`,
      );
    }
    const spotNeeded = notionalUsd.mul(pair.spot.takerFeeRate.plus(1));
    const reservedSpotUsd = reservedUsd.mul(pair.spot.takerFeeRate.plus(1));
    const spotFree = (balances.spot.get(QUOTE_ASSET) ?? ZERO).minus(reservedSpotUsd);
    if (spotFree.lt(spotNeeded)) {
      throw new RiskLimitError(
        'SPOT_BALANCE',
        `spot account has ${usd(spotFree)} USDT, the spot leg needs ${usd(spotNeeded)} USDT with fees`,
      );
    }
    const marginFree = this.perpEquityUsd(balances, openPositions).minus(exposure.div(this.limits.perpLeverage));
    const marginNeeded = notionalUsd.div(this.limits.perpLeverage).plus(notionalUsd.mul(pair.perp.takerFeeRate));
    if (balances.sharedQuote) {
      // One wallet for both legs: the spot leg's USDT comes out of the same free margin.
      if (marginFree.minus(reservedSpotUsd).minus(spotNeeded).lt(marginNeeded)) {
        throw new RiskLimitError(
          'PERP_MARGIN',
          `the account's one USDT wallet (unified) has ${usd(marginFree)} USDT free; the spot leg needs ${usd(spotNeeded)} and the short ${usd(marginNeeded)} USDT of it`,
        );
      }
    } else if (marginFree.lt(marginNeeded)) {
      throw new RiskLimitError(
        'PERP_MARGIN',
        `perp account has ${usd(marginFree)} USDT free margin, the short needs ${usd(marginNeeded)} USDT`,
      );
    }
  }

  /** Sum of open perp legs at the current mark (entry price when no fresh mark). */
  totalExposureUsd(openPositions: readonly Position[]): Decimal {
    return openPositions.reduce((sum, p) => sum.plus(p.perpLeg.qty.mul(this.tickers.lastOrNull(p.perpLeg.symbol) ?? p.perpLeg.entryPrice)), ZERO);
  }

  /** USDT in the perp account minus what buying back every open short would cost now. */
  perpEquityUsd(balances: Balances, openPositions: readonly Position[]): Decimal {
    return (balances.perp.get(QUOTE_ASSET) ?? ZERO).minus(this.totalExposureUsd(openPositions));
  }

  private checkPrices(symbols: readonly string[]): void {
    for (const symbol of symbols) {
      try {
        this.tickers.get(symbol);
      } catch (err) {
        if (err instanceof PriceUnavailableError) throw new RiskLimitError('PRICE_STALE', err.message);
        throw err;
      }
    }
  }
}
