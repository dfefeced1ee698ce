// Minimal typings for `ws` (a dependency of Baileys; the project has no @types/ws). Only what the simulator uses.
declare module 'ws' {
  import type { EventEmitter } from 'node:events'
  import type { IncomingMessage, Server as HttpServer } from 'node:http'

  export type RawData = Buffer | ArrayBuffer | Buffer[]

  export class WebSocket extends EventEmitter {
    static readonly OPEN: number
    readonly readyState: number
    send(data: Uint8Array, cb?: (err?: Error) => void): void
    close(code?: number, reason?: string): void
    terminate(): void
    on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): this
    on(event: 'close', listener: (code: number, reason: Buffer) => void): this
    on(event: 'error', listener: (err: Error) => void): this
  }

  export interface ServerOptions {
    server?: HttpServer
    path?: string
    noServer?: boolean
  }

  export class WebSocketServer extends EventEmitter {
    constructor(options: ServerOptions)
    readonly clients: Set<WebSocket>
    close(cb?: (err?: Error) => void): void
    on(event: 'connection', listener: (socket: WebSocket, request: IncomingMessage) => void): this
    on(event: 'error', listener: (err: Error) => void): this
  }
}
