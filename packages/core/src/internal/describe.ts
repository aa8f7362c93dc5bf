/** A short human text for an abort reason or any thrown value. */
export function describeReason(reason: unknown): string {
  if (reason === undefined) return 'no reason given'
  if (reason instanceof Error) return reason.message
  if (typeof reason === 'string') return reason
  try {
    return JSON.stringify(reason) ?? String(reason)
  } catch {
    return String(reason)
  }
}
