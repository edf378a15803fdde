/** Telegram's limit for one message's text. */
export const TELEGRAM_MAX_CHARS = 4096;

/**
 * Splits text into pieces of at most `max` characters at line boundaries; a single line longer
 * than `max` is cut where it must be. Nothing is lost or reordered.
 */
export function splitAtLines(text: string, max: number = TELEGRAM_MAX_CHARS): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    let rest = line;
    while (rest.length > max) {
      if (current) pieces.push(current);
      current = '';
      pieces.push(rest.slice(0, max));
      rest = rest.slice(max);
    }
    const candidate = current ? `${current}\n${rest}` : rest;
    if (candidate.length > max) {
      pieces.push(current);
      current = rest;
    } else {
      current = candidate;
    }
  }
  if (current || pieces.length === 0) pieces.push(current);
  return pieces;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
