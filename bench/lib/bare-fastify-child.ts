/**
 * The cold-start baseline of bench/startup.ts: a process that loads Fastify, answers `GET /health/ready` and prints
 * the line the daemon prints once it listens (`{"msg":"gateway listening","address":…}`). Nothing else: no
 * database, no config, no WhatsApp library.
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/health/ready', async () => ({ status: 'ready' }))
const address = await app.listen({ port: 0, host: '127.0.0.1' })
console.log(JSON.stringify({ msg: 'gateway listening', address }))
