import http from 'node:http'
import { adminHeaders } from './harness.js'

export interface SseEvent {
  event: string
  data: any
}

/**
 * Reads a Server-Sent Events stream until `until` accepts the events seen so far, then closes it.
 * Rejects after `timeoutMs` with the events seen, so a failing test says what did arrive.
 */
export function readSse(url: string, until: (events: SseEvent[]) => boolean, timeoutMs = 20_000, headers = adminHeaders): Promise<SseEvent[]> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = []
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`SSE ${url}: timed out; saw ${JSON.stringify(events.map((e) => [e.event, e.data?.to ?? e.data?.status]))}`))
    }, timeoutMs)
    const req = http.get(url, { headers }, (res) => {
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const taken = takeSseEvents(buffer + chunk)
        buffer = taken.rest
        events.push(...taken.events)
        if (until(events)) {
          clearTimeout(timer)
          req.destroy()
          resolve(events)
        }
      })
    })
    req.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/** Splits the complete `event:`/`data:` blocks off a stream buffer; answers them parsed, and what is left over. */
export function takeSseEvents(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = []
  let end: number
  while ((end = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, end)
    buffer = buffer.slice(end + 2)
    const event = /^event: (.*)$/m.exec(block)?.[1]
    const data = /^data: (.*)$/m.exec(block)?.[1]
    if (event && data) events.push({ event, data: JSON.parse(data) })
  }
  return { events, rest: buffer }
}

/** The instance's status as the SSE stream reports it: the initial `instance` snapshot, then `status` changes. */
export function latestStatus(events: SseEvent[]): string | undefined {
  let status: string | undefined
  for (const e of events) {
    if (e.event === 'instance') status = e.data.status
    if (e.event === 'status') status = e.data.to
  }
  return status
}
