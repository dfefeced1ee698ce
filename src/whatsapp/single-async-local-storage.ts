/**
 * Baileys rc14 creates an AsyncLocalStorage per socket (Socket/socket.js:270 → Utils/auth-utils.js:85) and enables it
 * on the first key-store transaction. Node 20's AsyncLocalStorage sits on async_hooks and never lets an enabled
 * instance go, so every promise and timer created afterwards runs once per instance and gains one property per
 * instance: with N sockets ever opened, each promise costs O(N). Measured: 100k promises 67 ms with no instance,
 * 18 s with 500; a daemon stalled between 500 and 1,000 sessions (bench/README.md).
 *
 * Installed once, before any socket exists: `AsyncLocalStorage` (and, through syncBuiltinESMExports, the ESM binding
 * Baileys imports, read when a socket is created) becomes a class whose instances share ONE native
 * AsyncLocalStorage, whose store is a chain of (instance, value) scopes. run/getStore/exit/enterWith keep their
 * meaning, but for one thing: a store given to `run` with an async callback ends when the callback's promise
 * settles.
 *
 * Why it ends. Every timer and promise created inside a run keeps the run's store for as long as it lives. Baileys
 * runs each key-store transaction in one (Utils/auth-utils.js:250), and the store is the transaction's context: its
 * cache of every key read and every session record written. A send's transaction adds the message to Baileys'
 * recent-message cache (Socket/messages-send.js:880), whose entries each start a 5-minute purge timer
 * (lru-cache's ttlAutopurge; up to 512 per socket, Utils/message-retry-manager.js:33-36): every busy instance kept
 * hundreds of finished transactions' session records alive. Measured with 2 instances taking 150 inbound messages/s
 * and sending 37/s: the heap after GC grew from ≈ 55 to ≈ 100 MB after 4–5 minutes (bench/FINDINGS.md, "Memory
 * under load"). Baileys commits from its own reference to the context after the run settled (auth-utils.js:250-252),
 * so nothing needs the store any longer; code that runs later (a fire-and-forget privacy-token issuance, a timer) now
 * finds no transaction, which is where it is (see one-signal-transaction.ts).
 */
import asyncHooks from 'node:async_hooks'
import { syncBuiltinESMExports } from 'node:module'

/**
 * One instance's value in an async context, over the values of the contexts it was started in. `ended` once the
 * run that set it is over: the value is dropped, and lookups go on to the enclosing contexts.
 */
interface Scope {
  owner: object
  value: unknown
  ended: boolean
  parent: Scope | undefined
}

const shared = new asyncHooks.AsyncLocalStorage<Scope>()
const Native = asyncHooks.AsyncLocalStorage

class MultiplexedAsyncLocalStorage<T> {
  static bind = Native.bind
  static snapshot = Native.snapshot

  run<R>(store: T, callback: (...args: any[]) => R, ...args: any[]): R {
    const scope = this.scope(store)
    const result = shared.run(scope, callback, ...args)
    if (isThenable(result)) {
      const end = () => {
        scope.ended = true
        scope.value = undefined
      }
      result.then(end, end)
    }
    return result
  }

  exit<R>(callback: (...args: any[]) => R, ...args: any[]): R {
    return shared.run(this.scope(undefined), callback, ...args)
  }

  enterWith(store: T): void {
    shared.enterWith(this.scope(store))
  }

  getStore(): T | undefined {
    for (let scope = shared.getStore(); scope; scope = scope.parent) {
      if (scope.owner === this && !scope.ended) return scope.value as T | undefined
    }
    return undefined
  }

  disable(): void {
    if (this.getStore() !== undefined) shared.enterWith(this.scope(undefined))
  }

  private scope(value: T | undefined): Scope {
    return { owner: this, value, ended: false, parent: shared.getStore() }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

let installed = false

export function shareOneAsyncLocalStorage(): void {
  if (installed) return
  installed = true
  ;(asyncHooks as { AsyncLocalStorage: unknown }).AsyncLocalStorage = MultiplexedAsyncLocalStorage
  syncBuiltinESMExports()
}
