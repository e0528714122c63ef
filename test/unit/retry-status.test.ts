import { describe, expect, it } from 'vitest';
import { retryableStatus } from '../../src/engine/retry.js';

describe('which answers are worth sending again', () => {
  it('retries a passing 502/503/504, never a 503 that states a lasting fact', () => {
    expect(retryableStatus(503, '{"message":"service unavailable"}')).toBe(true);
    expect(retryableStatus(502, 'Bad Gateway')).toBe(true);
    expect(retryableStatus(504, '')).toBe(true);
    expect(retryableStatus(503, '{"message":"This node is not a swarm manager. Use \\"docker swarm init\\" …"}')).toBe(false);
    expect(retryableStatus(503, '{"message":"This node is not part of a swarm"}')).toBe(false);
    expect(retryableStatus(503, '{"cause":"not implemented","message":"Podman does not support service: /v1.41/nodes/x","response":503}')).toBe(false);
    expect(retryableStatus(500, 'update out of sequence')).toBe(false);
  });
});
