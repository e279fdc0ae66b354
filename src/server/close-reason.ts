import type { WireError } from '../errors.js';

/** The WebSocket close reason limit (RFC 6455: 125 bytes of payload, 2 of them the code). */
const MAX_REASON_BYTES = 123;

/**
 * A close reason: the error as JSON, its message shortened until it fits 123 bytes (the original
 * sometimes sent longer reasons, which clients saw as an abnormal close 1006).
 */
export function closeReason(error: WireError): string {
  const encode = (message: string) =>
    JSON.stringify(error.type ? { message, type: error.type } : { message });
  let message = error.message;
  let reason = encode(message);
  while (Buffer.byteLength(reason) > MAX_REASON_BYTES && message.length > 0) {
    const excess = Buffer.byteLength(reason) - MAX_REASON_BYTES + 1;
    message = message.slice(0, Math.max(0, message.length - excess));
    reason = encode(`${message}…`);
  }
  return reason;
}
