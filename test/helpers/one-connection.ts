import http from 'node:http'
import type {Socket} from 'node:net'

export interface Call {
  method: string
  path: string
  headers?: Record<string, string>
  body?: unknown
  /** The status the API must answer. */
  expect: number
}

export interface Answer {
  call: string
  expect: number
  status?: number
  /** A request that got no answer: "connection reset", "socket hang up" … */
  error?: string
  headers: http.IncomingHttpHeaders
  body: string
  /** Which connection carried it (1: the first one opened). */
  socket: number
  /** The server closed the connection after this answer. */
  closedByServer: boolean
  /** The answer said it would (Connection: close, or HTTP/1.0 without keep-alive). */
  announcedClose: boolean
}

/** A step: a fixed call, or one built from the answers so far (an id just created …). */
export type Step = Call | ((answers: Answer[]) => Call)

/**
 * Sends the steps one after another over ONE kept-alive connection (http.Agent keepAlive,
 * maxSockets 1), each next request leaving as soon as the previous answer ended: what a client
 * that reuses its connection (python-requests, keystoneauth, node's fetch) does. A server that
 * closes the connection after an answer without saying so makes the next request fail (reset or
 * hang-up), or is caught afterwards: every answer records whether the server closed its
 * connection and whether the answer announced it.
 */
export async function overOneConnection(base: string, steps: Step[]): Promise<Answer[]> {
  const agent = new http.Agent({keepAlive: true, maxSockets: 1})
  const ids = new WeakMap<Socket, number>()
  const last = new WeakMap<Socket, Answer>()
  let opened = 0
  const answers: Answer[] = []
  try {
    for (const step of steps) {
      const call = typeof step === 'function' ? step(answers) : step
      const answer: Answer = {call: `${call.method} ${call.path}`, expect: call.expect, headers: {}, body: '', socket: 0, closedByServer: false, announcedClose: false}
      answers.push(answer)
      await new Promise<void>((resolve) => {
        const body = call.body === undefined ? undefined : JSON.stringify(call.body)
        const req = http.request(new URL(call.path, base), {
          agent,
          method: call.method,
          headers: {Accept: 'application/json', ...(body ? {'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body))} : {}), ...call.headers},
          timeout: 30_000,
        })
        req.on('socket', (s: Socket) => {
          if (!ids.has(s)) {
            ids.set(s, ++opened)
            s.on('end', () => {
              const a = last.get(s)
              if (a) a.closedByServer = true
            })
          }
          answer.socket = ids.get(s)!
        })
        req.on('timeout', () => req.destroy(new Error('no answer in 30 s')))
        req.on('error', (e: NodeJS.ErrnoException) => {
          answer.error = e.code ?? e.message
          resolve()
        })
        req.on('response', (res) => {
          answer.status = res.statusCode
          answer.headers = res.headers
          answer.announcedClose = res.headers.connection?.toLowerCase() === 'close' || (res.httpVersion === '1.0' && res.headers.connection?.toLowerCase() !== 'keep-alive')
          last.set(res.socket, answer)
          res.setEncoding('utf8')
          res.on('data', (d: string) => (answer.body += d))
          res.on('end', () => resolve())
          res.on('error', (e: NodeJS.ErrnoException) => {
            answer.error = e.code ?? e.message
            resolve()
          })
        })
        req.end(body)
      })
    }
    // Long enough for a close right after the last answer to arrive.
    await new Promise((resolve) => setTimeout(resolve, 500))
    return answers
  } finally {
    agent.destroy()
  }
}

/** What went wrong, one line per answer: unexpected status, no answer, or an unannounced close. */
export function problems(answers: Answer[]): string[] {
  return answers.flatMap((a) => {
    if (a.error) return [`${a.call}: ${a.error} (connection ${a.socket})`]
    const out: string[] = []
    if (a.status !== a.expect) out.push(`${a.call}: ${a.status} instead of ${a.expect}: ${a.body.slice(0, 200)}`)
    if (a.closedByServer && !a.announcedClose) out.push(`${a.call}: the server closed the connection after answering ${a.status} without Connection: close`)
    return out
  })
}
