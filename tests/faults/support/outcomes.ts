import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const OUTCOMES_DIR = join(process.cwd(), '.faults');
export const OUTCOMES_FILE = join(OUTCOMES_DIR, 'outcomes.jsonl');

export interface FaultOutcome {
  /** Group in the report, e.g. "Crash matrix". */
  group: string;
  fault: string;
  tries: number;
  outcome: string;
  passed: boolean;
  /** Paragraphs printed under the group's heading (the first outcome of a group that has them wins). */
  note?: readonly string[];
}

/** Records what one fault did, for docs/RELIABILITY.md (written when the suite ends). */
export function recordOutcome(outcome: FaultOutcome): void {
  mkdirSync(OUTCOMES_DIR, { recursive: true });
  appendFileSync(OUTCOMES_FILE, `${JSON.stringify(outcome)}\n`);
}
