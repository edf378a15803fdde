import { NotFoundError } from '../domain/errors.js';
import type { Coin, Instrument, LegKind } from '../domain/types.js';
import type { Exchange } from '../exchange/port.js';

export interface HedgePair {
  coin: Coin;
  spot: Instrument;
  perp: Instrument;
}

/** Trading rules of both legs of every coin that has a spot and a perp market. */
export class InstrumentInfo {
  private readonly pairs = new Map<Coin, HedgePair>();

  constructor(instruments: readonly Instrument[]) {
    const byCoin = new Map<Coin, Partial<Record<LegKind, Instrument>>>();
    for (const instrument of instruments) {
      const legs = byCoin.get(instrument.coin) ?? {};
      legs[instrument.kind] = instrument;
      byCoin.set(instrument.coin, legs);
    }
    for (const [coin, legs] of byCoin) {
      if (legs.spot && legs.perp) this.pairs.set(coin, { coin, spot: legs.spot, perp: legs.perp });
    }
  }

  static async load(exchange: Exchange): Promise<InstrumentInfo> {
    return new InstrumentInfo(await exchange.loadInstruments());
  }

  has(coin: Coin): boolean {
    return this.pairs.has(coin);
  }

  pair(coin: Coin): HedgePair {
    const pair = this.pairs.get(coin);
    if (!pair) {
      throw new NotFoundError(`unknown coin ${coin}; /funding lists the ${this.pairs.size} coins you can hedge`);
    }
    return pair;
  }

  coins(): Coin[] {
    return [...this.pairs.keys()].sort();
  }

  allSymbols(): string[] {
    return [...this.pairs.values()].flatMap((p) => [p.spot.symbol, p.perp.symbol]);
  }
}
