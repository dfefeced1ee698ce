import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * Opens a Server-Sent Events stream on the raw response and returns a writer. The caller subscribes to whatever
 * it streams and passes an unsubscribe function, which runs when the client goes away.
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
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    clearInterval(heartbeat)
    onClose()
  }
  request.raw.on('close', close)
  return {
    send(event: string, data: unknown, id?: string): void {
      if (closed) return
      res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    },
    end(): void {
      close()
      res.end()
    },
  }
}
