/**
 * Experiment only (BENCH_ALS_SHIM=1 in sessions.ts / restore.ts): one AsyncLocalStorage for the whole process.
 *
 * Baileys rc14 creates an AsyncLocalStorage per socket (Socket/socket.js:270 → Utils/auth-utils.js:85) and enables
 * it on the first key-store transaction; Node 20's AsyncLocalStorage is built on async_hooks and never lets an
 * enabled instance go, so every promise and timer created afterwards runs `_propagate` once per instance *and gets
 * one property per instance* (dictionary-mode objects). With N sockets ever opened, each promise costs O(N) time
 * and memory: the process slows and grows quadratically with its sessions.
 *
 * The shim replaces `async_hooks.AsyncLocalStorage` (and, via syncBuiltinESMExports, the ESM binding Baileys
 * imports) with a class whose instances share one native AsyncLocalStorage whose store maps instance → value.
 * Semantics of run/getStore/exit/enterWith are kept; the per-promise cost is that of one instance.
 */
import asyncHooks from 'node:async_hooks'
import { syncBuiltinESMExports } from 'node:module'

const Native = asyncHooks.AsyncLocalStorage
const shared = new Native<Map<object, unknown>>()

class MultiplexedAsyncLocalStorage<T> {
  static bind = Native.bind
  static snapshot = Native.snapshot

  private with(store: T | undefined, present: boolean): Map<object, unknown> {
    const next = new Map(shared.getStore())
    if (present) next.set(this, store)
    else next.delete(this)
    return next
  }

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
    const current = shared.getStore()
    if (current?.has(this)) shared.enterWith(this.with(undefined, false))
  }
}

;(asyncHooks as { AsyncLocalStorage: unknown }).AsyncLocalStorage = MultiplexedAsyncLocalStorage
syncBuiltinESMExports()
