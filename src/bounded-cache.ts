/**
 * A size-capped map (with Baileys' CacheStore shape, so sockets take it as their caches), optionally with a time to
 * live. Least recently *written* entries go first, which is enough for what it holds (retry counters, device lists,
 * signing keys); the point is a hard bound on memory. No timer: an expired entry is dropped when it is read or
 * when a later write finds it first in line (every entry lives as long, so write order is expiry order). Baileys'
 * own caches run an interval per cache that nothing stops unless the cache is closed.
 */
export class BoundedCache {
  private readonly map = new Map<string, { value: unknown; expiresAt: number }>()

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs = Number.POSITIVE_INFINITY,
    private readonly now: () => number = Date.now,
  ) {}

  get<T>(key: string): T | undefined {
    const entry = this.map.get(key)
    if (!entry) return undefined
    if (entry.expiresAt !== Number.POSITIVE_INFINITY && entry.expiresAt <= this.now()) {
      this.map.delete(key)
      return undefined
    }
    return entry.value as T
  }

  set<T>(key: string, value: T): boolean {
    const finite = this.ttlMs !== Number.POSITIVE_INFINITY
    const now = finite ? this.now() : 0
    this.map.delete(key)
    if (finite) {
      for (const [oldest, entry] of this.map) {
        if (entry.expiresAt > now) break
        this.map.delete(oldest)
      }
    }
    this.map.set(key, { value, expiresAt: finite ? now + this.ttlMs : Number.POSITIVE_INFINITY })
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value
      if (oldest !== undefined) this.map.delete(oldest)
    }
    return true
  }

  del(key: string): boolean {
    return this.map.delete(key)
  }

  flushAll(): void {
    this.map.clear()
  }

  get size(): number {
    return this.map.size
  }
}
