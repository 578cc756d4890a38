// Human wording for times: "expires in 12 min", "expired 3 min ago", activity timestamps.
// Pure functions of (time, now) so they are tested with a fixed clock.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "45 s"-free rough duration: "under a minute", "12 min", "2 h 5 min", "3 d". */
export function roughDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < MINUTE) return "under a minute";
  if (abs < HOUR) return `${Math.floor(abs / MINUTE)} min`;
  if (abs < DAY) {
    const h = Math.floor(abs / HOUR);
    const m = Math.floor((abs % HOUR) / MINUTE);
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(abs / DAY);
  return `${d} d`;
}

/** "expires in 12 min" / "expired 3 min ago"; null when the time is unknown or unparsable. */
export function expiryText(expiresAt: string | null | undefined, now: number): string | null {
  if (!expiresAt) return null;
  const at = Date.parse(expiresAt);
  if (Number.isNaN(at)) return null;
  const left = at - now;
  if (left > 0) return `expires in ${roughDuration(left)}`;
  if (-left < MINUTE) return "expired just now";
  return `expired ${roughDuration(left)} ago`;
}

/** A timestamp for lists: "14:03:07" today, "12 Mar 14:03" otherwise (local time). */
export function formatTimestamp(iso: string, now: number): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const today = new Date(now);
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  if (
    at.getFullYear() === today.getFullYear() &&
    at.getMonth() === today.getMonth() &&
    at.getDate() === today.getDate()
  ) {
    return time;
  }
  const month = at.toLocaleString("en", { month: "short" });
  const year = at.getFullYear() === today.getFullYear() ? "" : ` ${at.getFullYear()}`;
  return `${at.getDate()} ${month}${year} ${time.slice(0, 5)}`;
}
