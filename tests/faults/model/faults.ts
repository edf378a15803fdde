import fc from 'fast-check';

/**
 * What one venue order placement does, decided per call by the generated fault schedule:
 * - ok: fills in full and answers;
 * - refused: the venue says no before accepting (OrderRejectedError), nothing fills;
 * - lost: the venue fills, then the call throws a rate-limit VenueError (a failed fee read after
 *   acceptance, as the adapter reports it);
 * - timeoutFilled / timeoutNever: no answer ever; the order filled / never reached the venue;
 * - late: accepted and resting; fills and answers only at a later venue step;
 * - stale: accepted and resting; the call throws OrderTimeoutError ("accepted but not reported
 *   done"), lookups show it working, and it fills at a later venue step;
 * - partial: fills half (whole lot steps) and reports `partial`, final.
 */
export type OrderFault = 'ok' | 'refused' | 'lost' | 'timeoutFilled' | 'timeoutNever' | 'late' | 'stale' | 'partial';
/** A read (lookup, balances, tickers, funding rates) fails before the venue acted: rate limit or timeout. */
export type ReadFault = 'ok' | 'rateLimited' | 'timeout';
/** A store write (recordFill, putOperation, putPositionAndOperation) fails before it lands, or lands and throws. */
export type WriteFault = 'ok' | 'failBefore' | 'failAfter';

export interface FaultSchedule {
  order: OrderFault[];
  read: ReadFault[];
  write: WriteFault[];
}

export const NO_FAULTS: FaultSchedule = { order: [], read: [], write: [] };

/** `ok` first and most often: fast-check shrinks a constantFrom towards its first value. */
const orderFault = fc.constantFrom<OrderFault>('ok', 'ok', 'ok', 'ok', 'refused', 'lost', 'timeoutFilled', 'timeoutNever', 'late', 'stale', 'partial');
const readFault = fc.constantFrom<ReadFault>(...Array<ReadFault>(10).fill('ok'), 'rateLimited', 'timeout');
const writeFault = fc.constantFrom<WriteFault>(...Array<WriteFault>(10).fill('ok'), 'failBefore', 'failAfter');

/**
 * Faults for the first calls of each kind, in call order; every later call succeeds. `order` may
 * name the only order faults to draw (each as often as the rest together draw `ok`... roughly).
 */
export function faultSchedule(options: { order: boolean | readonly OrderFault[]; read: boolean; write: boolean }): fc.Arbitrary<FaultSchedule> {
  const orders = Array.isArray(options.order) ? fc.constantFrom<OrderFault>('ok', 'ok', 'ok', ...options.order) : orderFault;
  return fc.record({
    order: options.order === false ? fc.constant([]) : fc.array(orders, { maxLength: 16 }),
    read: options.read ? fc.array(readFault, { maxLength: 40 }) : fc.constant([]),
    write: options.write ? fc.array(writeFault, { maxLength: 40 }) : fc.constant([]),
  });
}

/** Hands out the schedule's faults in call order; off while processes boot and for the final settle. */
export class FaultSource {
  enabled = false;
  private readonly next = { order: 0, read: 0, write: 0 };

  constructor(private readonly schedule: FaultSchedule) {}

  order(): OrderFault {
    return this.take('order') ?? 'ok';
  }

  read(): ReadFault {
    return this.take('read') ?? 'ok';
  }

  write(): WriteFault {
    return this.take('write') ?? 'ok';
  }

  private take<K extends keyof FaultSchedule>(kind: K): FaultSchedule[K][number] | undefined {
    if (!this.enabled) return undefined;
    const list = this.schedule[kind];
    const index = this.next[kind];
    if (index >= list.length) return undefined;
    this.next[kind] = index + 1;
    return list[index];
  }
}
