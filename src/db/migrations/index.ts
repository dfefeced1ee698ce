import type { Migration } from '../migrate.js'
import { m001Core } from './001-core.js'
import { m002Messages } from './002-messages.js'
import { m003Events } from './003-events.js'
import { m004SentContent } from './004-sent-content.js'
import { m005PendingDeliveriesIndex } from './005-pending-deliveries-index.js'
import { m006AttemptLogInRow } from './006-attempt-log-in-row.js'
import { m007ClaimsInMemory } from './007-claims-in-memory.js'
import { m008DropUnusedEventIndex } from './008-drop-unused-event-index.js'
import { m009ContactsExpiryIndex } from './009-contacts-expiry-index.js'

export const migrations: readonly Migration[] = [m001Core, m002Messages, m003Events, m004SentContent, m005PendingDeliveriesIndex, m006AttemptLogInRow, m007ClaimsInMemory, m008DropUnusedEventIndex, m009ContactsExpiryIndex]
