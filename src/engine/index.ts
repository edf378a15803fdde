/** The engine's public API: the only engine module the chat front and the jobs import. */
export { Engine } from './engine.js';
export type {
  ClosePreview,
  EngineConfig,
  EngineDeps,
  LegQuote,
  OpenPreview,
  PnlReport,
  PnlRow,
  PositionView,
  RecoveryReport,
  StatusReport,
} from './engine.js';
export type { EngineEvent, EventListener } from './events.js';
export type { FundingOpportunity } from './market/funding.js';
export type { FundingCheckResult } from './position/fundingCheck.js';
export type { HoldingDifference } from './position/holdings.js';
export { Decimal } from './domain/decimal.js';
export * from './domain/errors.js';
export type * from './domain/types.js';
export type { Clock } from './domain/clock.js';
export { systemClock, ManualClock } from './domain/clock.js';
