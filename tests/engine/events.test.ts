import { describe, expect, it } from 'vitest';
import { type EngineEvent, EventBus } from '../../src/engine/events.js';

describe('EventBus', () => {
  it('delivers each event to every subscriber until it unsubscribes', () => {
    const bus = new EventBus();
    const a: EngineEvent[] = [];
    const b: EngineEvent[] = [];
    const stopA = bus.subscribe((e) => a.push(e));
    bus.subscribe((e) => b.push(e));
    const event: EngineEvent = { type: 'error', critical: true, operation: null, code: 'X', message: 'boom' };
    bus.emit(event);
    stopA();
    bus.emit({ ...event, message: 'again' });
    expect(a).toEqual([event]);
    expect(b.map((e) => (e.type === 'error' ? e.message : ''))).toEqual(['boom', 'again']);
  });
});
