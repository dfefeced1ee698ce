import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'

describe('config', () => {
  it('runs on embedded defaults and is frozen', () => {
    const config = loadConfig({}, '/srv/gw')
    expect(config).toMatchObject({ port: 8080, host: '0.0.0.0', dataDir: '/srv/gw/data', sessionsDir: '/srv/gw/sessions', logLevel: 'info' })
    expect(config.webhooks.retryScheduleMs).toEqual([60_000, 300_000, 1_800_000, 7_200_000, 43_200_000])
    expect(config.limits).toMatchObject({ mediaMaxBytes: 16 * 1024 * 1024, documentMaxBytes: 100 * 1024 * 1024 })
    expect(config.sessions.syncFullHistory).toBe(false)
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.webhooks.retryScheduleMs)).toBe(true)
    expect(() => ((config as { port: number }).port = 1)).toThrow(TypeError)
  })

  it('reads the contract names', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      DATA_DIR: '/d',
      SESSIONS_DIR: '/s',
      GATEWAY_ADMIN_TOKEN: 'a'.repeat(20),
      GATEWAY_SECRET_KEY: 'k'.repeat(40),
      LOG_LEVEL: 'debug',
      ALLOW_PRIVATE_WEBHOOK_CIDRS: '10.0.0.0/8, 192.168.1.0/24',
      WA_WS_URL: 'ws://127.0.0.1:1234/ws/chat',
      PLIXA_CORE_URL: 'https://core.example.com/hooks',
      PLIXA_CORE_SECRET: 'shh',
      WEBHOOK_RETRY_SCHEDULE_MS: '5,10,20',
    })
    expect(config).toMatchObject({ port: 9000, host: '127.0.0.1', dataDir: '/d', sessionsDir: '/s', logLevel: 'debug', waWsUrl: 'ws://127.0.0.1:1234/ws/chat' })
    expect(config.allowPrivateCidrs.contains('10.1.2.3')).toBe(true)
    expect(config.allowPrivateCidrs.contains('192.168.2.1')).toBe(false)
    expect(config.webhooks.retryScheduleMs).toEqual([5, 10, 20])
  })

  it('reports every bad value at once, with the variable name', () => {
    let error: unknown
    try {
      loadConfig({
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        GATEWAY_SECRET_KEY: 'short',
        WA_WS_URL: 'http://not-a-websocket',
        ALLOW_PRIVATE_WEBHOOK_CIDRS: '10.0.0.0/99',
        PLIXA_CORE_URL: 'https://core.example.com',
        SYNC_FULL_HISTORY: 'maybe',
        WEBHOOK_RETRY_SCHEDULE_MS: '1,-2',
      })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems.join('\n')
    for (const name of ['PORT', 'LOG_LEVEL', 'GATEWAY_SECRET_KEY', 'WA_WS_URL', 'ALLOW_PRIVATE_WEBHOOK_CIDRS', 'PLIXA_CORE_URL and PLIXA_CORE_SECRET', 'SYNC_FULL_HISTORY', 'WEBHOOK_RETRY_SCHEDULE_MS']) {
      expect(problems).toContain(name)
    }
    expect((error as ConfigError).problems).toHaveLength(8)
  })

  it('refuses an empty retry delay instead of reading it as a retry at once', () => {
    for (const bad of ['60000,', ',60000', '60000,,300000']) {
      expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE_MS: bad }), bad).toThrow(/WEBHOOK_RETRY_SCHEDULE_MS/)
    }
  })

  it('sizes the API body limit for the largest media or document in base64', () => {
    const { limits } = loadConfig({ MEDIA_MAX_BYTES: String(300 * 1024 * 1024), DOCUMENT_MAX_BYTES: String(100 * 1024 * 1024) })
    expect(limits.bodyMaxBytes).toBeGreaterThan((300 * 1024 * 1024 * 4) / 3)
  })

  it.each([
    ['EVENTS_RETENTION_DAYS', 'events', 7],
    ['MESSAGES_RETENTION_DAYS', 'messages', 90],
  ] as const)('%s: finished rows kept %s/%i days by default; 0 keeps them forever', (name, section, days) => {
    expect(loadConfig({})[section].retentionDays).toBe(days)
    expect(loadConfig({ [name]: '0' })[section].retentionDays).toBe(0)
    expect(loadConfig({ [name]: '30' })[section].retentionDays).toBe(30)
    for (const bad of ['-1', '1.5', 'week', '3651']) {
      expect(() => loadConfig({ [name]: bad })).toThrow(new RegExp(name))
    }
  })
})
