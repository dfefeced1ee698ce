import { describe, expect, it } from 'vitest'
import { reconnectDelay } from '../../src/instances/backoff.js'
import { classifyClose } from '../../src/whatsapp/close-reason.js'
import { BoundedCache } from '../../src/bounded-cache.js'

const boom = (statusCode: number, message = '', data?: unknown) => ({ message, output: { statusCode }, data })

describe('close classification', () => {
  it.each([
    [boom(515, 'Stream Errored (restart required)'), 'restart_required', 'restart_required'],
    [boom(401, 'Stream Errored (conflict)', { tag: 'conflict', attrs: { type: 'device_removed' } }), 'logged_out', 'device_removed'],
    [boom(401, 'Connection Failure', { reason: '401' }), 'logged_out', 'failure_401'],
    [boom(401, 'Intentional Logout'), 'logged_out', 'logout'],
    [boom(440, 'Stream Errored (conflict)'), 'replaced', 'replaced'],
    [boom(408, 'QR refs attempts ended'), 'qr_exhausted', 'qr_attempts_exhausted'],
    [boom(408, 'Connection was lost'), 'connection_lost', 'connection_lost'],
    [boom(428, 'Connection Terminated'), 'connection_closed', 'connection_closed'],
    [boom(503, 'Stream Errored (unavailable)'), 'unavailable', 'service_unavailable'],
    [boom(500, 'Stream Errored (bad session)'), 'bad_session', 'bad_session'],
    [boom(411, 'Multi-device beta not joined'), 'refused', 'multidevice_mismatch'],
    [boom(403, 'Connection Failure'), 'refused', 'forbidden'],
    [boom(418, 'Connection Failure'), 'other', 'closed_418'],
    [undefined, 'connection_closed', 'connection_closed'],
  ])('%o → %s', (error, kind, reason) => {
    expect(classifyClose(error)).toMatchObject({ kind, reason })
  })
})

describe('reconnect backoff', () => {
  const policy = { baseMs: 1000, maxMs: 60_000, failuresBeforeLong: 10, longMs: 300_000 }

  it('doubles the cap per failure up to the max, with full jitter', () => {
    expect(reconnectDelay(1, policy, () => 0.999_999)).toBe(999)
    expect(reconnectDelay(3, policy, () => 0.999_999)).toBe(3999)
    expect(reconnectDelay(9, policy, () => 0.999_999)).toBe(59_999)
    expect(reconnectDelay(3, policy, () => 0)).toBe(0)
  })

  it('jumps to minutes after the configured number of consecutive failures', () => {
    expect(reconnectDelay(10, policy, () => 0.999_999)).toBe(299_999)
  })
})

describe('BoundedCache', () => {
  it('never holds more than its cap', () => {
    const cache = new BoundedCache(3)
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, i)
    expect(cache.get('k9')).toBe(9)
    expect(cache.get('k6')).toBeUndefined()
    expect(['k7', 'k8', 'k9'].map((k) => cache.get(k))).toEqual([7, 8, 9])
  })

  it('with a time to live, forgets an entry once it expires, and drops expired entries on later writes', () => {
    let now = 1_000
    const cache = new BoundedCache(100, 50, () => now)
    cache.set('a', 1)
    now += 30
    cache.set('b', 2)
    expect(cache.get('a')).toBe(1)
    now += 25 // a: 55 ms old, b: 25 ms
    expect(cache.get('a')).toBeUndefined()
    expect(cache.get('b')).toBe(2)
    cache.set('c', 3)
    now += 30 // b expired; nobody read it since
    cache.set('d', 4)
    expect(cache.size).toBe(2)
    expect([cache.get('c'), cache.get('d')]).toEqual([3, 4])
  })
})
