import type { Server } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * The open streams of each HTTP server. A stream is a response that never finishes, so the server's close (which
 * waits for busy connections; fastify closes only the idle ones) would wait for it forever: closeEventStreams ends
 * them first.
 */
const openStreams = new WeakMap<Server, Set<() => void>>()

/** Ends every event stream open on `server` (its clients reconnect elsewhere, or to the next process). */
export function closeEventStreams(server: Server): void {
  for (const end of openStreams.get(server) ?? []) end()
}

/**
 * Opens a Server-Sent Events stream on the raw response and returns a writer. The caller subscribes to whatever
 * it streams and passes an unsubscribe function, which runs when the client goes away or the server closes.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply, onClose: () => void) {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  res.write('retry: 2000\n\n')
  // A comment line every 15 s keeps proxies from closing an idle stream.
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000)
  heartbeat.unref()
  const server = request.server.server
  let streams = openStreams.get(server)
  if (!streams) openStreams.set(server, (streams = new Set()))
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    clearInterval(heartbeat)
    streams.delete(end)
    onClose()
  }
  const end = () => {
    close()
    res.end()
  }
  streams.add(end)
  request.raw.on('close', close)
  return {
    send(event: string, data: unknown, id?: string): void {
      if (closed) return
      res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    },
    end,
  }
}
