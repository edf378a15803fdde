import { BPS, Decimal, floorToStep } from '../domain/decimal.js';
import { OrderRejectedError } from '../domain/errors.js';
import type { Instrument, OrderRequest, OrderResult } from '../domain/types.js';
import { buildsLeg, type FaultKind } from './faults.js';

const DRIFT_SHORTFALL = new Decimal('0.97');
const PARTIAL_SHARE = new Decimal('0.5');

/** Taker price: `slippageBps` worse than the reference, buys higher and sells lower. */
export function takerPrice(reference: Decimal, side: OrderRequest['side'], slippageBps: Decimal): Decimal {
  const factor = slippageBps.div(BPS);
  return side === 'buy' ? reference.mul(factor.plus(1)) : reference.mul(new Decimal(1).minus(factor));
}

/**
 * Fills a market order against a reference price, the way both simulated paths (the paper
 * executor and the simulated venue) do. Returns null for a `timeout` fault: the caller must then
 * behave as a venue that never answers.
 */
export function simulateFill(args: {
  request: OrderRequest;
  instrument: Instrument;
  referencePrice: Decimal;
  slippageBps: Decimal;
  fault: FaultKind | null;
  nowMs: number;
  orderId: string;
}): OrderResult | null {
  const { request, instrument, fault } = args;
  // As a venue does: a quantity off the lot step is refused before anything else.
  if (!request.qty.gt(0) || !request.qty.div(instrument.qtyStep).isInteger()) {
    throw new OrderRejectedError(
      `${instrument.kind} ${request.side} ${request.qty.toString()} ${request.symbol} refused: the quantity must be a positive multiple of ${instrument.qtyStep.toString()}`,
      { code: 'QTY_OFF_STEP' },
    );
  }
  if (fault === 'timeout') return null;
  if (fault === 'reject') {
    throw new OrderRejectedError(
      `${instrument.kind} ${request.side} ${request.qty.toString()} ${request.symbol} rejected by the simulated venue (SIM_FAULTS)`,
    );
  }
  let filledQty = request.qty;
  // Only the order that builds a leg falls short: if the unwinding orders did too, a rollback or
  // an emergency close could never flatten the leg. (A `late` fault is the caller's delay.)
  const building = buildsLeg(request.kind, request.side);
  const partial = fault === 'partial' && building;
  if (partial) filledQty = floorToStep(request.qty.mul(PARTIAL_SHARE), instrument.qtyStep);
  if (fault === 'drift' && building) filledQty = floorToStep(request.qty.mul(DRIFT_SHORTFALL), instrument.qtyStep);
  const avgPrice = takerPrice(args.referencePrice, request.side, args.slippageBps);
  return {
    clientOrderId: request.clientOrderId,
    orderId: args.orderId,
    coin: request.coin,
    kind: request.kind,
    symbol: request.symbol,
    side: request.side,
    status: partial ? 'partial' : 'filled',
    requestedQty: request.qty,
    filledQty,
    avgPrice,
    feeUsd: filledQty.mul(avgPrice).mul(instrument.takerFeeRate),
    simulated: true,
    timestampMs: args.nowMs,
  };
}
