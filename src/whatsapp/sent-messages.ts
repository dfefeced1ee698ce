import { proto, type WAMessage } from '@whiskeysockets/baileys'
import type { Database } from '../db/database.js'

/** How long sent content is kept for retries: a phone asks within seconds, or when it comes back online. */
export const SENT_CONTENT_RETENTION_MS = 14 * 86_400_000

/** One instance's sent messages, as its socket needs them to answer a retry receipt. */
export interface SentMessageLog {
  remember(message: WAMessage): void
  recall(waMessageId: string): proto.IMessage | undefined
}

/**
 * The content of every message the daemon's sockets sent, in WhatsApp's encoding. When a recipient's phone cannot
 * decrypt a message it sends a retry receipt, and Baileys sends the message again only if `getMessage` returns it
 * (Socket/messages-recv.js:1040-1070; its own recent-message cache is off and would not survive a restart anyway).
 * Without this, such a message is silently lost.
 */
export class SentMessages {
  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {}

  forInstance(instanceId: string): SentMessageLog {
    return {
      remember: (message) => {
        const id = message.key?.id
        if (!id || !message.message) return
        const content = proto.Message.encode(message.message).finish()
        this.db.run(
          this.db.qb
            .insertInto('wa_sent_messages')
            .values({ instance_id: instanceId, wa_message_id: id, content, sent_at: this.now() })
            .onConflict((oc) => oc.columns(['instance_id', 'wa_message_id']).doUpdateSet({ content, sent_at: this.now() })),
        )
      },
      recall: (waMessageId) => {
        const row = this.db.first(
          this.db.qb
            .selectFrom('wa_sent_messages')
            .select('content')
            .where('instance_id', '=', instanceId)
            .where('wa_message_id', '=', waMessageId),
        )
        return row ? proto.Message.decode(row.content) : undefined
      },
    }
  }

  /** Deletes content older than the retention; answers how many rows went. */
  prune(): number {
    return this.db.run(this.db.qb.deleteFrom('wa_sent_messages').where('sent_at', '<', this.now() - SENT_CONTENT_RETENTION_MS))
  }
}
