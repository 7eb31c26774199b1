import type * as v from 'valibot'

/** The media type of an RFC 9457 problem document. */
export const PROBLEM_TYPE = 'application/problem+json'

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/**
 * An `application/problem+json` response: `{ type, title, status, detail }`.
 * `type` is `about:blank` (the status says what kind of problem it is), as RFC 9457 allows.
 */
export function problem(status: number, detail: string, headers: Record<string, string> = {}): Response {
  const body = { type: 'about:blank', title: TITLES[status] ?? 'Error', status, detail }
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': PROBLEM_TYPE, 'cache-control': 'no-store', ...headers },
  })
}

/** valibot's issues as one line: `kernel: Invalid type…; source.url: …` (at most 5). */
export function issuesDetail(issues: readonly v.BaseIssue<unknown>[]): string {
  const parts = issues.slice(0, 5).map((i) => {
    const path = i.path?.map((p) => String(p.key)).join('.')
    return path ? `${path}: ${i.message}` : i.message
  })
  return parts.join('; ') + (issues.length > 5 ? `; and ${issues.length - 5} more` : '')
}
