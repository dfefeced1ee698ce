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
})
