import type { Decimal } from './decimal.js';

export type Coin = string;
export type LegKind = 'spot' | 'perp';
export type Side = 'buy' | 'sell';
export type TradingMode = 'paper' | 'live';

/** Where a liquidation price comes from: the venue's own figure, or our estimate from entry and leverage. */
export type LiquidationSource = 'venue' | 'estimate';

/** Trading rules of one market, from the venue: what a valid order looks like. */
export interface Instrument {
  coin: Coin;
  kind: LegKind;
  /** Unified symbol: `BTC/USDT` for spot, `BTC/USDT:USDT` for the linear perp. */
  symbol: string;
  qtyStep: Decimal;
  priceTick: Decimal;
  minQty: Decimal;
  maxQty: Decimal;
  minNotionalUsd: Decimal;
  makerFeeRate: Decimal;
  takerFeeRate: Decimal;
}

export interface Ticker {
  symbol: string;
  bid: Decimal;
  ask: Decimal;
  last: Decimal;
  timestampMs: number;
}

export interface FundingRate {
  coin: Coin;
  symbol: string;
  /** Rate paid per funding interval; positive means shorts receive. */
  rate: Decimal;
  intervalHours: number;
  nextFundingTimeMs: number;
}

export interface OrderRequest {
  /** Derived from the operation id, so a repeat can be recognised by the venue and by us. */
  clientOrderId: string;
  coin: Coin;
  kind: LegKind;
  symbol: string;
  side: Side;
  qty: Decimal;
  reduceOnly: boolean;
}

/**
 * `filled` and `partial` are final: the venue finished the order (a partial one was ended with
 * the rest unfilled). `working` is the venue's answer for an order it accepted and has not
 * finished: `filledQty` is what filled so far and may still grow. A working answer is never
 * stored as a fill and never taken as the order's outcome.
 */
export type OrderStatus = 'filled' | 'partial' | 'working';

export interface OrderResult {
  clientOrderId: string;
  orderId: string;
  coin: Coin;
  kind: LegKind;
  symbol: string;
  side: Side;
  status: OrderStatus;
  requestedQty: Decimal;
  filledQty: Decimal;
  avgPrice: Decimal;
  feeUsd: Decimal;
  simulated: boolean;
  timestampMs: number;
}

/** The funding rate a venue settled at one funding time: what every position held then was paid on. */
export interface SettledFundingRate {
  /** The funding time as the venue stamps it (on the interval grid, or a moment after it). */
  atMs: number;
  /** Rate of that interval; positive means shorts received. */
  rate: Decimal;
}

/** Funding the venue actually paid or charged on a perp position, as its account history shows it. */
export interface FundingPayment {
  /** The venue's id of the payment (unique per venue). */
  id: string;
  /** Unified perp symbol, `BTC/USDT:USDT`. */
  symbol: string;
  coin: Coin;
  /** When the venue booked it: the funding time, or a few seconds after. */
  atMs: number;
  /** Positive: received by us; negative: paid by us. */
  amountUsd: Decimal;
}

export interface Leg {
  kind: LegKind;
  symbol: string;
  side: Side;
  qty: Decimal;
  entryPrice: Decimal;
  entryFeeUsd: Decimal;
}

/** What earlier attempts to close a hedge sold and bought back, and their fees. */
export interface ExitTotals {
  spotQty: Decimal;
  /** Σ qty × price of the spot sells. */
  spotValueUsd: Decimal;
  perpQty: Decimal;
  /** Σ qty × price of the perp buys. */
  perpValueUsd: Decimal;
  feesUsd: Decimal;
}

export interface Position {
  id: string;
  coin: Coin;
  mode: TradingMode;
  spotLeg: Leg;
  perpLeg: Leg;
  openedAtMs: number;
  openedBy: string;
  openOperationId: string;
  status: 'open' | 'closed';
  /** Last funding timestamp already booked for this position. */
  lastFundingMs: number;
  closedAtMs?: number;
  /**
   * Set on a closed position once every funding time up to its close is booked, so the funding
   * scan stops looking at it.
   */
  fundingComplete?: boolean;
  closeOperationId?: string;
  exitSpotPrice?: Decimal;
  exitPerpPrice?: Decimal;
  exitFeesUsd?: Decimal;
  realisedPnlUsd?: Decimal;
  /**
   * Coins the spot close could not sell because they are less than one lot step (left by a fee
   * the venue took in the coin). They stay in the spot wallet and are not in the realised PnL.
   */
  spotDustQty?: Decimal;
  /** Set after a close attempt that did not finish: what it closed, counted in the final PnL. */
  earlierExits?: ExitTotals;
}

/** One hedge's funding over the funding times both sides have booked: the ledger's and the venue's. */
export interface FundingComparison {
  position: Position;
  /** First and last funding time compared. */
  fromMs: number;
  toMs: number;
  /** Ledger bookings and venue payments compared. */
  bookings: number;
  payments: number;
  ledgerUsd: Decimal;
  venueUsd: Decimal;
  /** venue − ledger. */
  differenceUsd: Decimal;
  toleranceUsd: Decimal;
  withinTolerance: boolean;
  /** Funding times the ledger booked and the venue paid nothing for. */
  unpaidTimesMs: number[];
  /** Times of venue payments near no funding time the ledger booked. */
  unbookedTimesMs: number[];
}

export interface DeltaStatus {
  coin: Coin;
  spotQty: Decimal;
  perpQty: Decimal;
  /** |spot − perp| in coin units. */
  driftQty: Decimal;
  /** Drift relative to the larger leg, in basis points. */
  driftBps: Decimal;
  toleranceBps: Decimal;
  withinTolerance: boolean;
}

export interface Requester {
  userId: string;
  name: string;
  chatId: string;
  messageId?: string;
}

export type OperationKind = 'open' | 'close' | 'mode';
export type OperationState =
  | 'requested'
  | 'confirmed'
  | 'placing'
  | 'open'
  | 'closed'
  | 'rolled_back'
  | 'failed'
  | 'cancelled'
  | 'expired'
  /** A mode change that was applied. */
  | 'done';

export const FINISHED_STATES: ReadonlySet<OperationState> = new Set([
  'open',
  'closed',
  'rolled_back',
  'failed',
  'cancelled',
  'expired',
  'done',
]);

export interface OperationStep {
  atMs: number;
  state: OperationState;
  note: string;
  /** Unique per step written (older records have none). */
  id?: string;
}

/** The quote a preview showed; confirming re-checks the market against it. */
export interface Quote {
  spotPrice: Decimal;
  perpPrice: Decimal;
  qty: Decimal;
  quotedAtMs: number;
  expiresAtMs: number;
}

export interface Operation {
  id: string;
  kind: OperationKind;
  coin: Coin;
  mode: TradingMode;
  notionalUsd?: Decimal;
  positionId?: string;
  targetMode?: TradingMode;
  /**
   * How many mode switches the store had seen when this operation was previewed. A confirmation
   * is refused once the mode has switched since (the preview is bound to its mode).
   */
  modeEpoch?: number;
  quote?: Quote;
  /** When a preview without a quote (a mode change) stops being confirmable. */
  expiresAtMs?: number;
  requestedBy: Requester;
  state: OperationState;
  steps: OperationStep[];
  createdAtMs: number;
  updatedAtMs: number;
  errorCode?: string;
  errorMessage?: string;
  /** Recovery rounds begun on this operation; each round's orders have client ids of their own. */
  recoveryRound?: number;
}

export type LedgerKind = 'deposit' | 'trade' | 'fee' | 'funding';
export type Account = 'spot' | 'perp';

/** One append-only ledger line: a signed amount of one asset in one account. */
export interface LedgerEntry {
  id: string;
  atMs: number;
  kind: LedgerKind;
  account: Account;
  /** `USDT`, a coin (`BTC`) in the spot account, or a perp contract (`BTC-PERP`) in the perp account. */
  asset: string;
  amount: Decimal;
  ref: string;
  mode: TradingMode;
}

export interface AuditEntry {
  atMs: number;
  userId: string;
  name: string;
  chatId: string;
  action: string;
  outcome: string;
}

export const perpAsset = (coin: Coin): string => `${coin}-PERP`;
export const QUOTE_ASSET = 'USDT';
