/**
 * One bound on WebSocket connects for the whole process. Every socket an instance opens (boot restore, reconnect,
 * restart, pairing) first takes a slot and holds it from creation until `open`, its first QR, or its close: the
 * stretch where a (re)connect costs CPU (Noise handshake, certificate checks, login iqs) and where WhatsApp sees a
 * burst. When the server drops every socket at once each supervisor reconnects on its own backoff; without this
 * bound their handshakes would all overlap. Waiters are served first come, first served.
 *
 * A slot whose holder neither opened nor closed within `holdTimeoutMs` is freed anyway, so a hung handshake cannot
 * keep the gate shut; the socket itself is left to Baileys' connect timeout and the connection watchdog.
 */
export class ConnectGate {
  private active = 0
  private readonly waiting: Array<{ grant: () => void }> = []
  private peakActive = 0
  private draining = false
  private timeouts = 0

  constructor(
    readonly limit: number,
    private readonly holdTimeoutMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('ConnectGate: limit must be a whole number ≥ 1')
  }

  /**
   * Runs `start(release)` as soon as a slot is free — synchronously when one is free now. `release` frees the slot
   * and may be called any number of times. Returns a function that withdraws the request while it still waits
   * (after `start` ran it does nothing; the holder releases instead).
   */
  request(start: (release: () => void) => void): () => void {
    const entry = { grant: () => this.grant(start) }
    this.waiting.push(entry)
    this.drain()
    return () => {
      const at = this.waiting.indexOf(entry)
      if (at >= 0) this.waiting.splice(at, 1)
    }
  }

  /** For metrics and tests: slots held now, requests waiting, the most slots ever held at once, slots freed by timeout. */
  stats(): { active: number; waiting: number; peakActive: number; timeouts: number } {
    return { active: this.active, waiting: this.waiting.length, peakActive: this.peakActive, timeouts: this.timeouts }
  }

  /**
   * Grants free slots in order. A loop rather than granting from inside `release`: a holder may release during its
   * own `start` (a socket that fails at once), and a thousand of those in a row must not nest a thousand frames.
   */
  private drain(): void {
    if (this.draining) return
    this.draining = true
    try {
      while (this.active < this.limit && this.waiting.length > 0) this.waiting.shift()!.grant()
    } finally {
      this.draining = false
    }
  }

  private grant(start: (release: () => void) => void): void {
    this.active += 1
    this.peakActive = Math.max(this.peakActive, this.active)
    let held = true
    const release = () => {
      if (!held) return
      held = false
      clearTimeout(timer)
      this.active -= 1
      this.drain()
    }
    const timer = setTimeout(() => {
      if (held) this.timeouts += 1
      release()
    }, this.holdTimeoutMs)
    timer.unref()
    try {
      start(release)
    } catch (err) {
      release()
      throw err
    }
  }
}
