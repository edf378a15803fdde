import { QUOTE_ASSET, perpAsset, type LedgerEntry, type OrderResult, type TradingMode } from '../domain/types.js';

/**
 * The ledger lines of one fill. Perps are booked like cash-settled instruments: selling credits
 * the notional and debits contracts, buying back reverses it, so after a close the USDT left over
 * is exactly the realised PnL, and balances are always the plain sum of the lines.
 */
export function fillLedgerEntries(fill: OrderResult, mode: TradingMode): LedgerEntry[] {
  const notional = fill.filledQty.mul(fill.avgPrice);
  const buying = fill.side === 'buy';
  const account = fill.kind;
  const base = { atMs: fill.timestampMs, account, ref: fill.clientOrderId, mode } as const;
  return [
    { ...base, id: `${fill.clientOrderId}:quote`, kind: 'trade', asset: QUOTE_ASSET, amount: buying ? notional.neg() : notional },
    {
      ...base,
      id: `${fill.clientOrderId}:base`,
      kind: 'trade',
      asset: fill.kind === 'spot' ? fill.coin : perpAsset(fill.coin),
      amount: buying ? fill.filledQty : fill.filledQty.neg(),
    },
    { ...base, id: `${fill.clientOrderId}:fee`, kind: 'fee', asset: QUOTE_ASSET, amount: fill.feeUsd.neg() },
  ];
}
