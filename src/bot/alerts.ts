import { randomUUID } from 'node:crypto';
import type { Engine, EngineEvent } from '../engine/index.js';
import { formatEvent } from './format.js';

/** Alert types a team may mute; critical ones (rollback, drift, recovery, funding mismatch, error) never are. */
export const MUTABLE_ALERTS = ['fill', 'close', 'funding', 'opportunity'] as const;
export type MutableAlert = (typeof MUTABLE_ALERTS)[number];

const TYPE_OF_EVENT: Partial<Record<EngineEvent['type'], MutableAlert>> = {
  opened: 'fill',
  closed: 'close',
  funding: 'funding',
  opportunity: 'opportunity',
};

export interface OutgoingAlert {
  id: string;
  type: string;
  critical: boolean;
  text: string;
  createdAtMs: number;
}

const MUTES_KEY = 'mutes';

/** Mutes, kept in the store so every process honours them: alert type → muted until (ms). */
export async function activeMutes(engine: Engine): Promise<Record<string, number>> {
  const mutes = (await engine.getSetting<Record<string, number>>(MUTES_KEY)) ?? {};
  const now = Date.now();
  return Object.fromEntries(Object.entries(mutes).filter(([, until]) => until > now));
}

export async function setMute(engine: Engine, type: MutableAlert, untilMs: number | null): Promise<void> {
  const mutes = await activeMutes(engine);
  if (untilMs === null) delete mutes[type];
  else mutes[type] = untilMs;
  await engine.putSetting(MUTES_KEY, mutes);
}

/**
 * Turns engine events into alerts for the ops chat: formatted once, muted types skipped,
 * critical ones flagged so they go first.
 */
export async function toAlert(engine: Engine, event: EngineEvent): Promise<OutgoingAlert | null> {
  const mutable = TYPE_OF_EVENT[event.type];
  if (mutable && (await activeMutes(engine))[mutable]) return null;
  return { id: randomUUID(), type: event.type, critical: event.critical, text: formatEvent(event), createdAtMs: Date.now() };
}
