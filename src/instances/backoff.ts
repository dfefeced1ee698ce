export interface BackoffPolicy {
  baseMs: number
  maxMs: number
  failuresBeforeLong: number
  longMs: number
}

/**
 * Exponential backoff with full jitter (a uniform draw from [0, cap]), so a fleet of sessions that dropped together
 * does not reconnect together. After `failuresBeforeLong` consecutive failures the cap jumps to minutes: a session
 * that cannot connect should cost nothing while it waits.
 */
export function reconnectDelay(consecutiveFailures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const cap =
    consecutiveFailures >= policy.failuresBeforeLong
      ? policy.longMs
      : Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, consecutiveFailures - 1))
  return Math.floor(random() * cap)
}
