import { describe, expect, it } from 'vitest';
import { startPeriodic } from './periodic.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startPeriodic', () => {
  it('runs at start when asked, never twice at once, reports failures, and waits for a run on close', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const errors: unknown[] = [];
    const periodic = startPeriodic(
      async () => {
        runs += 1;
        running += 1;
        most = Math.max(most, running);
        await sleep(1_500);
        running -= 1;
        if (runs === 1) throw new Error('first run fails');
      },
      1,
      (error) => errors.push(error),
      { immediately: true },
    );
    expect(runs).toBe(1);
    // The 1 s tick falls while the first run is still going: skipped (`most` stays 1); a later tick runs.
    const deadline = Date.now() + 10_000;
    while (runs < 2 && Date.now() < deadline) await sleep(50);
    expect(runs).toBe(2);
    await periodic.close();
    expect(running).toBe(0);
    expect(most).toBe(1);
    expect(errors).toEqual([new Error('first run fails')]);
    await sleep(1_100);
    expect(runs).toBe(2);
  });
});
