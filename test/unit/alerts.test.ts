/**
 * Alerts are log lines with a stable `alert` field (README "Alerts"); the error-rate watch raises
 * `error_rate_spike` once per window when 5xx answers pass the threshold.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorRateMonitor } from '../../lib/error-rate';
import { alert } from '../../lib/log';

afterEach(() => vi.restoreAllMocks());

describe('alerts', () => {
  it('are one JSON error line whose alert field cannot be overwritten by a caller’s fields', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((l: string) => void lines.push(l));
    alert('cerbos_unreachable', 'Cerbos could not be asked', { reason: 'timeout', alert: 'something_else' });
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ level: 'error', msg: 'Cerbos could not be asked', reason: 'timeout', alert: 'cerbos_unreachable' }]);
  });
});

describe('error-rate watch', () => {
  it('stays quiet below the minimum traffic and below the threshold', () => {
    const m = new ErrorRateMonitor({ windowMs: 60_000, minRequests: 20, threshold: 0.5 });
    const t0 = 1_000_000;
    for (let i = 0; i < 19; i++) expect(m.record(502, t0 + i)).toBeNull();
    const steady = new ErrorRateMonitor();
    for (let i = 0; i < 200; i++) expect(steady.record(i % 3 === 0 ? 500 : 200, t0 + i * 100)).toBeNull();
  });

  it('raises once when 5xx pass half of the last minute, then again only after a quiet window', () => {
    const m = new ErrorRateMonitor({ windowMs: 60_000, minRequests: 20, threshold: 0.5 });
    const t0 = 5_000_000;
    const raised: number[] = [];
    for (let i = 0; i < 100; i++) if (m.record(i < 10 ? 200 : 503, t0 + i * 100)) raised.push(i);
    expect(raised).toEqual([19]);
    // Half a minute later the spike goes on: still quiet (one line per window).
    expect(m.record(503, t0 + 30_000)).toBeNull();
    // After the window, a continuing spike is reported again.
    expect(m.record(503, t0 + 80_000)).toBeNull(); // the old buckets expired: too few requests now
    let again = null;
    for (let i = 0; i < 25 && !again; i++) again = m.record(503, t0 + 80_000 + i * 10);
    expect(again).toMatchObject({ errors: expect.any(Number), rate: expect.any(Number) });
  });

  it('does not count 4xx (client mistakes) as errors', () => {
    const m = new ErrorRateMonitor({ minRequests: 5 });
    for (let i = 0; i < 50; i++) expect(m.record(401, 10_000 + i)).toBeNull();
  });
});
