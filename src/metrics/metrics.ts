import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { InstanceStatus } from '../instances/status.js'

const STATUSES: readonly InstanceStatus[] = ['pending_qr', 'connecting', 'connected', 'disconnected']

/** Outcome of one webhook/core delivery attempt, as the delivery worker classifies it. */
export type DeliveryOutcome = 'success' | 'retry' | 'failed' | 'disabled'

export interface MetricsDeps {
  /** Read at scrape time, so the gauge is never stale and nobody has to keep it up to date. */
  instanceStatusCounts: () => Partial<Record<InstanceStatus, number>>
}

// Process metrics (memory, CPU, event-loop lag via perf_hooks.monitorEventLoopDelay, GC) describe the whole
// process, not one daemon, and prom-client's collectors can't be stopped: one registry per process, shared.
let processRegistry: Registry | undefined
function sharedProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 20 })
  }
  return processRegistry
}

/**
 * The daemon's Prometheus metrics. Other modules call the recording methods (`sent`, `inbound`,
 * `deliveryAttempt`, …); the HTTP layer renders the text format at `GET /metrics`. One instance per daemon, so
 * several daemons in one test process never share counters.
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  private readonly sentTotal: Counter<'type'>
  private readonly sendFailedTotal: Counter<'type' | 'code'>
  private readonly inboundTotal: Counter<'type'>
  private readonly deliveryAttempts: Counter<'outcome'>
  private readonly deliverySeconds: Histogram<'outcome'>
  private readonly httpRequests: Counter<'method' | 'route' | 'status_code'>
  private readonly httpSeconds: Histogram<'method' | 'route'>
  private readonly queueSources = new Map<string, () => number>()

  constructor(deps: MetricsDeps) {
    const registers = [this.registry]
    new Gauge({
      name: 'wagw_instances',
      help: 'Instances by status',
      labelNames: ['status'] as const,
      registers,
      collect() {
        const counts = deps.instanceStatusCounts()
        for (const status of STATUSES) this.set({ status }, counts[status] ?? 0)
      },
    })
    this.sentTotal = new Counter({ name: 'wagw_messages_sent_total', help: 'Messages the WhatsApp server accepted, by type', labelNames: ['type'] as const, registers })
    this.sendFailedTotal = new Counter({
      name: 'wagw_messages_send_failed_total',
      help: 'Messages that failed terminally, by type and error code',
      labelNames: ['type', 'code'] as const,
      registers,
    })
    this.inboundTotal = new Counter({ name: 'wagw_messages_inbound_total', help: 'Messages received from customers, by type', labelNames: ['type'] as const, registers })
    this.deliveryAttempts = new Counter({
      name: 'wagw_event_delivery_attempts_total',
      help: 'Webhook and core delivery attempts, by outcome (success, retry, failed, disabled)',
      labelNames: ['outcome'] as const,
      registers,
    })
    this.deliverySeconds = new Histogram({
      name: 'wagw_event_delivery_duration_seconds',
      help: 'Duration of one delivery attempt, from request to answer or timeout',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    const queueSources = this.queueSources
    new Gauge({
      name: 'wagw_queue_depth',
      help: 'Items waiting, by queue (e.g. outbound messages, event deliveries)',
      labelNames: ['queue'] as const,
      registers,
      collect() {
        for (const [queue, read] of queueSources) this.set({ queue }, read())
      },
    })
    this.httpRequests = new Counter({
      name: 'wagw_http_requests_total',
      help: 'HTTP requests, by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers,
    })
    this.httpSeconds = new Histogram({
      name: 'wagw_http_request_duration_seconds',
      help: 'HTTP request duration, by method and route template',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    })
  }

  /** A message left the number and the WhatsApp server acknowledged it. */
  sent(type: string): void {
    this.sentTotal.inc({ type })
  }

  /** A message failed for good (after retries); `code` is the errors.ts code recorded on it. */
  sendFailed(type: string, code: string): void {
    this.sendFailedTotal.inc({ type, code })
  }

  /** A customer's message reached one of the numbers. */
  inbound(type: string): void {
    this.inboundTotal.inc({ type })
  }

  /** One delivery attempt to a webhook or the Plixa core finished after `seconds`. */
  deliveryAttempt(outcome: DeliveryOutcome, seconds: number): void {
    this.deliveryAttempts.inc({ outcome })
    this.deliverySeconds.observe({ outcome }, seconds)
  }

  /** Registers a queue whose depth is read at scrape time; registering the same name again replaces it. */
  queueDepth(queue: string, read: () => number): void {
    this.queueSources.set(queue, read)
  }

  httpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status_code: String(statusCode) })
    this.httpSeconds.observe({ method, route }, seconds)
  }

  get contentType(): string {
    return this.registry.contentType
  }

  /** The Prometheus text exposition of this daemon's metrics and the process's. */
  async render(): Promise<string> {
    return Registry.merge([sharedProcessRegistry(), this.registry]).metrics()
  }
}
