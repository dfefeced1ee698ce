/**
 * Whole seconds, rounded up, at least 1. Encoders pad up to a frame (Opus 20 ms; AAC 1024 samples, 23 ms at
 * 44.1 kHz), so anything within 50 ms above a whole second is that second: a 5 s recording shows 0:05, not 0:06.
 */
export function wholeSeconds(durationSeconds: number): number {
  return Math.max(1, Math.ceil(durationSeconds - 0.05))
}
