/**
 * A size-capped map (with Baileys' CacheStore shape, so sockets take it as their caches). Least recently *written*
 * entries go first, which is enough for what it holds (retry counters, device lists, signing keys); the point is a
 * hard bound on memory.
 */
export class BoundedCache {
  private readonly map = new Map<string, unknown>()

  constructor(private readonly maxEntries: number) {}

  get<T>(key: string): T | undefined {
    return this.map.get(key) as T | undefined
  }

  set<T>(key: string, value: T): boolean {
    this.map.delete(key)
    this.map.set(key, value)
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
}
