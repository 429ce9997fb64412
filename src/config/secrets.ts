// Secrets never appear in a diagnostic, a log line or a comment: the value of a secret keyword
// (auth_pass, an SSL password, an auth_hmac key) is shown as '…', and a URL's password as '***'.

/** keepalived keywords whose value is a secret, in any block. */
export const SECRET_KEYWORDS: ReadonlySet<string> = new Set(['auth_pass', 'password', 'key']);

export const HIDDEN = '…';

/** `scheme://user:password@host` → `scheme://user:***@host`, anywhere in the text. */
export function maskUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi, '$1***@');
}

/**
 * A configuration line as it may be shown: a secret keyword's value is hidden, URL passwords
 * masked. `keyword` is the line's first word.
 */
export function showLine(keyword: string, line: string, secret = SECRET_KEYWORDS.has(keyword)): string {
  if (secret) return `${keyword} ${HIDDEN}`;
  return maskUrlCredentials(line);
}

/** A value as it may be shown in a message about `keyword`. */
export function showValue(keyword: string, value: string, secret = SECRET_KEYWORDS.has(keyword)): string {
  return secret ? HIDDEN : maskUrlCredentials(value);
}
