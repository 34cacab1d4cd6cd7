/**
 * How EC2 renders times in metadata. Deliberately independent of the agent's parsers in src/imds,
 * so a mistake on one side shows up as a failing round trip instead of cancelling out.
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Scheduled-event dates: "21 Jan 2019 09:00:43 GMT" (day not zero-padded, as NTH's layout "2 Jan 2006" expects). */
export function formatAwsEventDate(d: Date): string {
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`;
}

/** Spot/rebalance notice times: "2025-01-01T00:02:00Z" (whole seconds, like EC2 and AEMM). */
export function formatNoticeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
