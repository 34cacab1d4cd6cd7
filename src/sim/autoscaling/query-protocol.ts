/**
 * The AWS Query protocol as Auto Scaling speaks it: form-encoded requests in, XML out.
 *
 * Requests are `POST /` with `application/x-www-form-urlencoded` bodies (`Action=…&Version=2011-01-01&…`);
 * lists are flattened as `Name.member.1`, `Name.member.2`, …. Responses are
 * `<{Action}Response xmlns=…><{Action}Result>…</{Action}Result><ResponseMetadata>…</ResponseMetadata></{Action}Response>`,
 * lists are `<Name><member>…</member></Name>`. The XML is written by hand (a few helpers) so the
 * simulator needs no dependency, and every text value goes through `xmlEscape`.
 */

export const AUTOSCALING_XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
export const AUTOSCALING_API_VERSION = '2011-01-01';

/** Decoded form parameters of one request. */
export class QueryParams {
  private readonly map = new Map<string, string>();

  constructor(body: string) {
    // URLSearchParams decodes `+` as a space and percent escapes, as the SDK and the CLI encode.
    for (const [k, v] of new URLSearchParams(body)) this.map.set(k, v);
  }

  get(name: string): string | undefined {
    return this.map.get(name);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /** `Name.member.1..n` in index order; an empty list when absent (the SDK omits empty lists). */
  list(name: string): string[] {
    const prefix = `${name}.member.`;
    const indexed: Array<[number, string]> = [];
    for (const [k, v] of this.map) {
      if (!k.startsWith(prefix)) continue;
      const idx = Number(k.slice(prefix.length));
      if (Number.isInteger(idx) && idx > 0) indexed.push([idx, v]);
    }
    return indexed.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }
}

export function xmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export type XmlScalar = string | number | boolean | Date | undefined | null;

function scalarText(v: Exclude<XmlScalar, undefined | null>): string {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/** `<name>value</name>`, or nothing when the value is absent (optional members are omitted, as AWS does). */
export function leaf(name: string, value: XmlScalar): string {
  if (value === undefined || value === null) return '';
  return `<${name}>${xmlEscape(scalarText(value))}</${name}>`;
}

/** `<name>children</name>` where the children are already-rendered XML. */
export function node(name: string, ...children: string[]): string {
  return `<${name}>${children.join('')}</${name}>`;
}

/** `<name><member>…</member>…</name>`; an empty list renders as `<name/>` as AWS does. */
export function memberList(name: string, members: string[]): string {
  if (members.length === 0) return `<${name}/>`;
  return `<${name}>${members.map((m) => `<member>${m}</member>`).join('')}</${name}>`;
}

/** A list of scalar values (e.g. AvailabilityZones). */
export function scalarList(name: string, values: string[]): string {
  return memberList(name, values.map(xmlEscape));
}

/** The success envelope; `result` is the inner XML of `<{Action}Result>`, or undefined for actions without one. */
export function renderResponse(action: string, result: string | undefined, requestId: string): string {
  const resultXml = result === undefined ? '' : node(`${action}Result`, result);
  return (
    `<${action}Response xmlns="${AUTOSCALING_XMLNS}">` +
    resultXml +
    node('ResponseMetadata', leaf('RequestId', requestId)) +
    `</${action}Response>`
  );
}

/** The error envelope the SDK's awsQuery error parser reads (`Error.Code`, `Error.Message`). */
export function renderError(type: 'Sender' | 'Receiver', code: string, message: string, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${AUTOSCALING_XMLNS}">` +
    node('Error', leaf('Type', type), leaf('Code', code), leaf('Message', message)) +
    leaf('RequestId', requestId) +
    '</ErrorResponse>'
  );
}
