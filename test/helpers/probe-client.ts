import type { ChildProcess } from 'node:child_process'

/**
 * Asks bench/lib/probe-preload.ts in `child` (spawned with an IPC channel): `{id, cmd}` out, `{id, data}` back.
 * Fails when no answer comes within 30 s or the child exits first.
 */
export function probeClient(child: ChildProcess, exited: Promise<unknown>): <T>(cmd: string) => Promise<T> {
  let nextId = 0
  const replies = new Map<number, (data: unknown) => void>()
  child.on('message', (msg: { id?: number; data?: unknown }) => {
    if (typeof msg.id === 'number') replies.get(msg.id)?.(msg.data)
  })
  return <T>(cmd: string) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++
      const done = (settle: () => void) => {
        clearTimeout(timer)
        replies.delete(id)
        settle()
      }
      const timer = setTimeout(() => done(() => reject(new Error(`probe ${cmd}: no answer from pid ${child.pid}`))), 30_000)
      replies.set(id, (data) => done(() => resolve(data as T)))
      void exited.then(() => replies.has(id) && done(() => reject(new Error(`probe ${cmd}: pid ${child.pid} exited`))))
      child.send({ id, cmd })
    })
}
