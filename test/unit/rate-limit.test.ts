import { RateLimiter } from '../../src/http/rate-limit.js';

describe('RateLimiter', () => {
  it('allows a burst, then says how many seconds until the next attempt', () => {
    const limiter = new RateLimiter({ burst: 5, refillMs: 10_000 });
    for (let i = 0; i < 5; i += 1) expect(limiter.take('10.0.0.1', 0)).toBe(0);
    expect(limiter.take('10.0.0.1', 0)).toBe(10);
    expect(limiter.take('10.0.0.1', 4_000)).toBe(6);
    expect(limiter.take('10.0.0.1', 10_000)).toBe(0);
    expect(limiter.take('10.0.0.1', 10_000)).toBe(10);
  });

  it('keeps clients apart', () => {
    const limiter = new RateLimiter({ burst: 1, refillMs: 1_000 });
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 0)).toBe(1);
    expect(limiter.take('b', 0)).toBe(0);
  });

  it('gives a token back on refund, and forgets a client whose bucket is full again', () => {
    const limiter = new RateLimiter({ burst: 2, refillMs: 60_000 });
    limiter.take('a', 0);
    limiter.take('a', 0);
    limiter.refund('a', 0);
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 0)).toBe(60);
    limiter.refund('a', 0);
    limiter.refund('a', 0);
    expect(limiter.size).toBe(0);
  });

  it('tracks at most maxClients, dropping the least recently seen', () => {
    const limiter = new RateLimiter({ burst: 1, refillMs: 60_000, maxClients: 10 });
    for (let i = 0; i < 100; i += 1) limiter.take(`client-${i}`, i);
    expect(limiter.size).toBeLessThanOrEqual(10);
    // The newest client is still held to its limit.
    expect(limiter.take('client-99', 100)).toBeGreaterThan(0);
  });

  it('refuses settings that would never allow an attempt', () => {
    expect(() => new RateLimiter({ burst: 0, refillMs: 1_000 })).toThrow(/burst >= 1.*got burst 0/);
  });
});
