import { describe, expect, it } from 'vitest'
import { SocketClosedError } from '../../src/messages/ports.js'
import { SocketLifetime } from '../../src/messages/socket-lifetime.js'

describe('SocketLifetime', () => {
  it('settles with each send and keeps nothing of the sends that settled', async () => {
    const life = new SocketLifetime()
    const sent = await Promise.all(Array.from({ length: 1_000 }, (_, i) => life.race(Promise.resolve(i))))
    expect(sent[999]).toBe(999)
    await expect(life.race(Promise.reject(new Error('server said no')))).rejects.toThrow('server said no')
    expect(life.racing).toBe(0)
  })

  it('fails a send still running when the socket ends, and any send after it at once', async () => {
    const life = new SocketLifetime()
    const stuck = life.race(new Promise<never>(() => undefined))
    expect(life.racing).toBe(1)
    life.end()
    await expect(stuck).rejects.toBeInstanceOf(SocketClosedError)
    await expect(life.race(Promise.resolve('late'))).rejects.toBeInstanceOf(SocketClosedError)
    expect(life.racing).toBe(0)
  })
})
