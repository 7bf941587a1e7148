import { describe, expect, it } from 'vitest';
import { childTrace, formatTraceparent, parseTraceparent } from './tracing.js';

describe('W3C traceparent', () => {
  it('continues a valid trace with a new span id', () => {
    const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(parent).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      sampled: true,
    });
    const child = childTrace(parent);
    expect(child.traceId).toBe(parent!.traceId);
    expect(child.spanId).not.toBe(parent!.spanId);
    expect(formatTraceparent(child)).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  });

  it('ignores malformed and all-zero headers and starts a new trace', () => {
    for (const header of [
      'garbage',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-abc-def-01',
      undefined,
    ]) {
      expect(parseTraceparent(header)).toBeUndefined();
    }
    const fresh = childTrace(undefined);
    expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.sampled).toBe(true);
  });
});
