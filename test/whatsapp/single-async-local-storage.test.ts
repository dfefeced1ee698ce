import { describe, expect, it } from 'vitest'
import { shareOneAsyncLocalStorage } from '../../src/whatsapp/single-async-local-storage.js'

describe('one shared AsyncLocalStorage', () => {
  it('replaces the class for ESM importers too and keeps run/getStore/exit semantics per instance', async () => {
    shareOneAsyncLocalStorage()
    const { AsyncLocalStorage } = await import('node:async_hooks')
    expect(AsyncLocalStorage.name).toBe('MultiplexedAsyncLocalStorage')
    const a = new AsyncLocalStorage<string>()
    const b = new AsyncLocalStorage<number>()
    expect(a.getStore()).toBeUndefined()
    await a.run('outer', async () => {
      expect(a.getStore()).toBe('outer')
      await b.run(7, async () => {
        await Promise.resolve()
        expect([a.getStore(), b.getStore()]).toEqual(['outer', 7])
        await a.run('inner', async () => {
          await new Promise((resolve) => setImmediate(resolve))
          expect([a.getStore(), b.getStore()]).toEqual(['inner', 7])
        })
        expect(a.getStore()).toBe('outer')
        a.exit(() => expect([a.getStore(), b.getStore()]).toEqual([undefined, 7]))
      })
      expect(b.getStore()).toBeUndefined()
    })
    expect(a.getStore()).toBeUndefined()
  })

  it('ends a store when its async run settles: a timer started inside sees it during the run, not after', async () => {
    shareOneAsyncLocalStorage()
    const { AsyncLocalStorage } = await import('node:async_hooks')
    const tx = new AsyncLocalStorage<{ cache: string }>()
    const other = new AsyncLocalStorage<string>()
    const later: Array<Promise<unknown[]>> = []
    const during: unknown[] = []
    await other.run('request', async () => {
      await tx.run({ cache: 'records' }, async () => {
        // fires while the run is still open: it sees the store
        await new Promise<void>((resolve) => setTimeout(() => resolve(void during.push(tx.getStore()?.cache)), 1))
        // outlives the run, like Baileys' 5-minute purge timers: it must not find (or keep) the finished store
        later.push(new Promise<unknown[]>((resolve) => setTimeout(() => resolve([tx.getStore(), other.getStore()]), 1)))
      })
      expect(tx.getStore()).toBeUndefined()
    })
    expect(during).toEqual(['records'])
    // the outer store is over too by the time the timer fires (its run settled first)
    expect(await later[0]).toEqual([undefined, undefined])
  })

  it('keeps the store of a synchronous run for what it started, and an outer store once an inner run ended', async () => {
    shareOneAsyncLocalStorage()
    const { AsyncLocalStorage } = await import('node:async_hooks')
    const a = new AsyncLocalStorage<string>()
    let sync!: Promise<string | undefined>
    a.run('sync', () => {
      sync = new Promise((resolve) => setImmediate(() => resolve(a.getStore())))
    })
    expect(await sync).toBe('sync')
    await a.run('outer', async () => {
      let inner!: Promise<string | undefined>
      await a.run('inner', async () => {
        inner = new Promise((resolve) => setImmediate(() => resolve(a.getStore())))
      })
      // started inside the inner run, which has ended: it falls back to the outer run, still open
      expect(await inner).toBe('outer')
    })
  })
})
