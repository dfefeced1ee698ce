import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { ConnectGate } from '../../src/instances/connect-gate.js'
import type { StatusChange } from '../../src/instances/status.js'
import { startHarness, type Harness } from '../helpers/harness.js'

describe('ConnectGate', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('holds at most `limit` slots and serves waiters in order; release is idempotent', () => {
    const gate = new ConnectGate(2, 60_000)
    const started: number[] = []
    const releases: Array<() => void> = []
    for (let i = 0; i < 5; i++) gate.request((release) => (started.push(i), releases.push(release)))
    expect(started).toEqual([0, 1])
    expect(gate.stats()).toMatchObject({ active: 2, waiting: 3 })
    releases[0]!()
    releases[0]!()
    expect(started).toEqual([0, 1, 2])
    expect(gate.stats()).toMatchObject({ active: 2, waiting: 2 })
    releases[1]!()
    releases[2]!()
    releases[3]!()
    releases[4]!()
    expect(started).toEqual([0, 1, 2, 3, 4])
    expect(gate.stats()).toEqual({ active: 0, waiting: 0, peakActive: 2, timeouts: 0 })
  })

  it('a withdrawn request never starts; withdrawing after the start does nothing', () => {
    const gate = new ConnectGate(1, 60_000)
    let release: () => void = () => undefined
    const cancelFirst = gate.request((r) => (release = r))
    let secondStarted = false
    const cancelSecond = gate.request(() => (secondStarted = true))
    cancelSecond()
    cancelFirst()
    expect(gate.stats()).toMatchObject({ active: 1, waiting: 0 })
    release()
    expect(secondStarted).toBe(false)
    expect(gate.stats().active).toBe(0)
  })

  it('frees a slot whose holder never reports back, after the hold timeout', () => {
    vi.useFakeTimers()
    const gate = new ConnectGate(1, 30_000)
    gate.request(() => undefined) // a handshake that hangs
    let nextStarted = false
    gate.request(() => (nextStarted = true))
    vi.advanceTimersByTime(29_999)
    expect(nextStarted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(nextStarted).toBe(true)
    expect(gate.stats()).toMatchObject({ active: 1, timeouts: 1 })
  })

  it('a start that throws gives its slot back; a long run of them does not nest', () => {
    const gate = new ConnectGate(1, 60_000)
    let hold: () => void = () => undefined
    gate.request((r) => (hold = r))
    let failed = 0
    // Each one releases during its own start, which grants the next: a loop, not 10,000 nested frames.
    for (let i = 0; i < 10_000; i++) gate.request((release) => (failed++, release()))
    hold()
    expect(failed).toBe(10_000)
    expect(() => gate.request(() => {
      throw new Error('boom')
    })).toThrow('boom')
    expect(gate.stats()).toMatchObject({ active: 0, waiting: 0 })
  })

  it('CONNECT_CONCURRENCY and SESSIONS_OPEN_FILES are validated; the connect bound follows RESTORE_CONCURRENCY', () => {
    expect(loadConfig({}).sessions).toMatchObject({ connectConcurrency: 8, restoreConcurrency: 8, openSessionFiles: 128 })
    expect(loadConfig({ RESTORE_CONCURRENCY: '16' }).sessions.connectConcurrency).toBe(16)
    expect(loadConfig({ CONNECT_CONCURRENCY: '3', SESSIONS_OPEN_FILES: '500' }).sessions).toMatchObject({ connectConcurrency: 3, openSessionFiles: 500 })
    expect(() => loadConfig({ CONNECT_CONCURRENCY: '0', SESSIONS_OPEN_FILES: 'many' })).toThrow(/CONNECT_CONCURRENCY[\s\S]*SESSIONS_OPEN_FILES/)
  })
})

describe('mass reconnect through the connect gate, against the simulator', () => {
  const BOUND = 2
  const INSTANCES = 8
  let h: Harness

  beforeAll(async () => {
    // Backoff of at most 1 ms: after the drop every instance wants its socket back at the same moment.
    h = await startHarness({ env: { CONNECT_CONCURRENCY: String(BOUND), RECONNECT_BASE_MS: '1', RECONNECT_MAX_MS: '1' } })
  })
  afterAll(async () => {
    await h.close()
  })

  it(`the simulator drops every socket; never more than ${BOUND} handshakes at once, and all come back`, async () => {
    const ids: string[] = []
    for (let i = 0; i < INSTANCES; i++) ids.push((await h.pairNewInstance()).id) // one at a time: one handshake at a time
    const devices = h.sim.connectedDevices()
    expect(devices).toHaveLength(INSTANCES)
    expect(h.sim.handshakes.peak).toBeLessThanOrEqual(BOUND)

    const back = new Set<string>()
    const allBack = new Promise<void>((resolve) => {
      const onStatus = (change: StatusChange) => {
        if (change.to !== 'connected' || !ids.includes(change.instanceId)) return
        back.add(change.instanceId)
        if (back.size === INSTANCES) {
          h.daemon.manager.off('status', onStatus)
          resolve()
        }
      }
      h.daemon.manager.on('status', onStatus)
    })
    const logins = new Set<string>()
    const onLogin = ({ deviceJid }: { deviceJid: string }) => logins.add(deviceJid)
    h.sim.on('login', onLogin)
    // <xmlstreamend/> to every socket in the same tick: each client closes with 428 and reconnects on its own.
    for (const device of devices) h.sim.faults.streamEnd(device)
    await allBack
    h.sim.off('login', onLogin)

    expect(logins.size).toBe(INSTANCES) // every instance opened a new socket
    expect(h.sim.connectedDevices().sort()).toEqual([...devices].sort())
    expect(h.sim.handshakes).toMatchObject({ inProgress: 0 })
    expect(h.sim.handshakes.peak).toBeLessThanOrEqual(BOUND)
    expect(h.daemon.manager.connectGate.stats()).toMatchObject({ active: 0, waiting: 0, timeouts: 0 })
    expect(h.daemon.manager.connectGate.stats().peakActive).toBeLessThanOrEqual(BOUND)
    for (const id of ids) expect(h.daemon.manager.get(id).status).toBe('connected')
  }, 120_000) // pairs eight phones
})
