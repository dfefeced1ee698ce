import type { Logger } from '../logger.js'

export type WhatsAppRuntime = typeof import('./runtime.js')

/**
 * Loads the WhatsApp side of the daemon (runtime.ts, and with it Baileys) once, on first need: before the server
 * listens when instances exist, right after it otherwise (daemon.ts), and in any case before an instance is created.
 * Loading also makes Baileys refuse forged signatures (curve-verify.ts), before any socket can exist.
 */
export class WhatsAppLoader {
  private loading: Promise<WhatsAppRuntime> | undefined
  private loaded: WhatsAppRuntime | undefined

  constructor(private readonly logger: Logger) {}

  load(): Promise<WhatsAppRuntime> {
    this.loading ??= import('./runtime.js').then((runtime) => {
      const { patched } = runtime.ensureStrictCurveVerify()
      if (patched) this.logger.warn('Baileys accepted a forged signature (libsignal 6 verify bug); a strict Curve.verify is installed')
      this.loaded = runtime
      return runtime
    })
    return this.loading
  }

  /**
   * The loaded runtime, for code that runs only once an instance exists: instances are created, and restored, only
   * after `load()` resolved. Throws otherwise: that would be a wiring mistake, not a state to handle.
   */
  get runtime(): WhatsAppRuntime {
    if (!this.loaded) throw new Error('the WhatsApp runtime was used before WhatsAppLoader.load() resolved')
    return this.loaded
  }
}
