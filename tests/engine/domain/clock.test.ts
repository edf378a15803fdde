import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../../src/engine/domain/clock.js';

describe('Clock.sleep with an abort signal', () => {
  it('ManualClock: an aborted sleep is dropped and never wakes; the others still do', async () => {
    const clock = new ManualClock();
    const woke: string[] = [];
    const dropped = new AbortController();
    void clock.sleep(100, dropped.signal).then(() => woke.push('dropped'));
    void clock.sleep(100).then(() => woke.push('kept'));
    expect(clock.pendingSleeps()).toBe(2);
    dropped.abort();
    expect(clock.pendingSleeps()).toBe(1);
    await clock.advance(100);
    expect(woke).toEqual(['kept']);
    expect(clock.pendingSleeps()).toBe(0);
    const already = new AbortController();
    already.abort();
    void clock.sleep(1, already.signal);
    expect(clock.pendingSleeps()).toBe(0);
  });

  it('systemClock: an aborted sleep frees its timer and never resolves', async () => {
    const dropped = new AbortController();
    let resolved = false;
    void systemClock.sleep(20, dropped.signal).then(() => (resolved = true));
    dropped.abort();
    await systemClock.sleep(40);
    expect(resolved).toBe(false);
  });
});
