/**
 * Baileys rc14 creates an AsyncLocalStorage per socket (Socket/socket.js:270 → Utils/auth-utils.js:85) and enables it
 * on the first key-store transaction. Node 20's AsyncLocalStorage sits on async_hooks and never lets an enabled
 * instance go, so every promise and timer created afterwards runs once per instance and gains one property per
 * instance: with N sockets ever opened, each promise costs O(N). Measured: 100k promises 67 ms with no instance,
 * 18 s with 500; a daemon stalled between 500 and 1,000 sessions (bench/README.md).
 *
 * Installed once, before any socket exists: `AsyncLocalStorage` (and, through syncBuiltinESMExports, the ESM binding
 * Baileys imports, read when a socket is created) becomes a class whose instances share ONE native
 * AsyncLocalStorage whose store maps instance → value. run/getStore/exit/enterWith keep their meaning.
 */
import asyncHooks from 'node:async_hooks'
import { syncBuiltinESMExports } from 'node:module'

const Native = asyncHooks.AsyncLocalStorage
const shared = new Native<Map<object, unknown>>()

class MultiplexedAsyncLocalStorage<T> {
  static bind = Native.bind
  static snapshot = Native.snapshot

  run<R>(store: T, callback: (...args: any[]) => R, ...args: any[]): R {
    return shared.run(this.with(store, true), callback, ...args)
  }

  exit<R>(callback: (...args: any[]) => R, ...args: any[]): R {
    return shared.run(this.with(undefined, false), callback, ...args)
  }

  enterWith(store: T): void {
    shared.enterWith(this.with(store, true))
  }

  getStore(): T | undefined {
    return shared.getStore()?.get(this) as T | undefined
  }

  disable(): void {
    if (shared.getStore()?.has(this)) shared.enterWith(this.with(undefined, false))
  }

  private with(store: T | undefined, present: boolean): Map<object, unknown> {
    const next = new Map(shared.getStore())
    if (present) next.set(this, store)
    else next.delete(this)
    return next
  }
}

let installed = false

export function shareOneAsyncLocalStorage(): void {
  if (installed) return
  installed = true
  ;(asyncHooks as { AsyncLocalStorage: unknown }).AsyncLocalStorage = MultiplexedAsyncLocalStorage
  syncBuiltinESMExports()
}
