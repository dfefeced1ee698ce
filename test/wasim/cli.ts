/**
 * `npm run sim` (tsx test/wasim/cli.ts): runs the simulator as a process with its HTTP control API.
 * Options (flags or env): --port / WASIM_PORT (ws, default 0 = random), --control-port / WASIM_CONTROL_PORT,
 * --seed / WASIM_ROOT_KEY_SEED, --qr-refs / WASIM_QR_REFS, --no-media,
 * --prekey-count-floor / WASIM_PREKEY_COUNT_FLOOR (benchmarks only, see WaSimulatorOptions.preKeyCountFloor).
 * Prints one JSON line on start: {"event":"started","wsUrl","controlUrl","rootPublicKey","mediaHost","mediaCa"}.
 */
import { parseArgs } from 'node:util'
import { ControlServer } from './control-server.js'
import { WaSimulator } from './simulator.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'control-port': { type: 'string' },
    seed: { type: 'string' },
    'qr-refs': { type: 'string' },
    'no-media': { type: 'boolean' },
    'prekey-count-floor': { type: 'string' }
  }
})

const env = process.env
const sim = await WaSimulator.start({
  port: Number(values.port ?? env.WASIM_PORT ?? 0),
  rootKeySeed: values.seed ?? env.WASIM_ROOT_KEY_SEED,
  qrRefs: values['qr-refs'] ?? env.WASIM_QR_REFS ? Number(values['qr-refs'] ?? env.WASIM_QR_REFS) : undefined,
  media: !values['no-media'],
  preKeyCountFloor: Number(values['prekey-count-floor'] ?? env.WASIM_PREKEY_COUNT_FLOOR ?? 0)
})
const control = new ControlServer(sim)
await control.start(Number(values['control-port'] ?? env.WASIM_CONTROL_PORT ?? 0))

console.log(
  JSON.stringify({
    event: 'started',
    wsUrl: sim.wsUrl,
    controlUrl: control.url,
    rootPublicKey: sim.rootPublicKeyBase64,
    rootKeySeed: sim.rootKeySeed,
    mediaHost: sim.mediaHost,
    mediaCa: sim.mediaCaPath
  })
)

const shutdown = async () => {
  await control.stop()
  await sim.stop()
  process.exit(0)
}
process.once('SIGINT', () => void shutdown())
process.once('SIGTERM', () => void shutdown())
