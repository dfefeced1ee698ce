import { SocketClosedError } from './ports.js'

/**
 * One attached socket's life, as the sends on it see it: `race` settles with the send, or rejects with
 * SocketClosedError as soon as the socket ends, whichever comes first — Baileys' own query on a closed socket can
 * wait its full query timeout (60 s) before failing, and the instance's queue must not wait with it.
 *
 * Each race registers itself and leaves when its send settles. A race against one promise that settles only when
 * the socket ends kept a reaction (≈ 440 bytes) per message sent on that promise for as long as the socket lived:
 * memory grew with every send (bench/FINDINGS.md, "Memory under load").
 */
export class SocketLifetime {
  private readonly pending = new Set<(err: Error) => void>()
  private ended = false

  race<T>(send: Promise<T>): Promise<T> {
    if (this.ended) return Promise.reject(new SocketClosedError())
    return new Promise<T>((resolve, reject) => {
      this.pending.add(reject)
      send.then(resolve, reject).finally(() => this.pending.delete(reject))
    })
  }

  /** The socket is gone: every send still racing fails with SocketClosedError. */
  end(): void {
    this.ended = true
    // A rejection settles nothing synchronously: the races leave the set only in their `finally`, after the clear.
    for (const reject of this.pending) reject(new SocketClosedError())
    this.pending.clear()
  }

  /** Sends racing now (what the tests look at). */
  get racing(): number {
    return this.pending.size
  }
}
