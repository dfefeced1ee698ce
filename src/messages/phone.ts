/** Phones as the contract takes them: 8 to 18 digits, an optional leading `+`, stored without it. */
const PHONE_PATTERN = /^\+?\d{8,18}$/

export function normalizePhone(raw: string): string | undefined {
  return PHONE_PATTERN.test(raw) ? raw.replace(/^\+/, '') : undefined
}

/**
 * The numbers WhatsApp may know a dialled number as, the dialled form first. Brazilian mobiles gained a ninth
 * digit (55 + 2-digit area + 9 + 8 digits) but accounts registered before it often still live under the 8-digit
 * form (WAHA #238), and the reverse happens too; only WhatsApp's contact lookup can say which one is real.
 * The 8-digit form is a mobile only when it starts with 6-9, so landlines get no variant.
 */
export function phoneCandidates(phone: string): string[] {
  if (!phone.startsWith('55')) return [phone]
  const area = phone.slice(2, 4)
  const subscriber = phone.slice(4)
  if (subscriber.length === 9 && subscriber.startsWith('9')) return [phone, `55${area}${subscriber.slice(1)}`]
  if (subscriber.length === 8 && /^[6-9]/.test(subscriber)) return [phone, `55${area}9${subscriber}`]
  return [phone]
}
