import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import type { Logger } from '../logger.js'

/** How long sent content is kept for retries: a phone asks within seconds, or when it comes back online. */
const SENT_CONTENT_RETENTION_MS = 14 * 86_400_000

/** One instance's sent messages, as its socket needs them to answer a retry receipt: the encoded `proto.Message`. */
export interface SentMessageLog {
  remember(waMessageId: string, content: Uint8Array): void
  recall(waMessageId: string): Uint8Array | undefined
}

/**
 * The content of every message the daemon's sockets sent, in WhatsApp's encoding. When a recipient's phone cannot
 * decrypt a message it sends a retry receipt, and Baileys sends the message again only if `getMessage` returns it
 * (Socket/messages-recv.js:1040-1070). Its own recent-message cache (on, see connection.ts) keeps them 5 minutes
 * in memory only; this log answers later retries, and retries after a restart.
 * Without this, such a message is silently lost.
 *
 * The messages sent in one event-loop turn are logged in one commit (a commit each was ≈ 0.2 ms of main thread per
 * message, bench/sends.ts): a retry asked within that turn is answered from Baileys' cache, and a crash before the
 * commit loses only the content of messages a phone may yet ask for again.
 */
export class SentMessages {
  // Prepared once: `remember` runs after every send.
  private readonly stmt: { upsert: Statement; select: Statement; prune: Statement }

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.stmt = {
      upsert: db.sqlite.prepare(
        `INSERT INTO wa_sent_messages (instance_id, wa_message_id, content, sent_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (instance_id, wa_message_id) DO UPDATE SET content = excluded.content, sent_at = excluded.sent_at`,
      ),
      select: db.sqlite.prepare('SELECT content FROM wa_sent_messages WHERE instance_id = ? AND wa_message_id = ?').pluck(),
      prune: db.sqlite.prepare('DELETE FROM wa_sent_messages WHERE sent_at < ?'),
    }
  }

  forInstance(instanceId: string): SentMessageLog {
    return {
      remember: (id, content) => {
        const at = this.now()
        this.db.groupCommit(() => this.stmt.upsert.run(instanceId, id, content, at)).catch((err: unknown) => {
          this.logger.error({ err, instanceId, waMessageId: id }, 'logging sent content failed; a retry receipt for it may go unanswered')
        })
      },
      recall: (waMessageId) => this.stmt.select.get(instanceId, waMessageId) as Uint8Array | undefined,
    }
  }

  /** Deletes content older than the retention; answers how many rows went. */
  prune(): number {
    return this.stmt.prune.run(this.now() - SENT_CONTENT_RETENTION_MS).changes
  }
}
