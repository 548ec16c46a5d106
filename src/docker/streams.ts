import type Docker from 'dockerode'
import {PassThrough} from 'node:stream'

/** Reads a Docker JSON progress stream; resolves with every message, rejects on an `error` entry. */
export function followProgress(docker: Docker, stream: NodeJS.ReadableStream, onLog?: (line: string) => void, onEvent?: (event: any) => void): Promise<any[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: any[]) => {
        if (err) return reject(err)
        const failed = output.find((o) => o.error || o.errorDetail)
        if (failed) return reject(new Error(failed.error ?? failed.errorDetail?.message))
        resolve(output)
      },
      (event: any) => {
        onEvent?.(event)
        if (!onLog) return
        const text = event.stream ?? event.status ?? event.error
        if (typeof text !== 'string') return
        for (const line of text.split('\n')) if (line.trim()) onLog(line.trimEnd())
      },
    )
  })
}

/** Docker's multiplexed log format (8-byte frame headers) as one text, frames in order. */
export function demuxBuffer(buf: Buffer): string {
  const out: Buffer[] = []
  let i = 0
  while (i + 8 <= buf.length && buf[i] <= 2 && buf[i + 1] === 0 && buf[i + 2] === 0 && buf[i + 3] === 0) {
    const size = buf.readUInt32BE(i + 4)
    out.push(buf.subarray(i + 8, i + 8 + size))
    i += 8 + size
  }
  // A TTY container's logs have no frames: the whole buffer is the text.
  return i === 0 ? buf.toString('utf8') : Buffer.concat(out).toString('utf8')
}

/** Collects a multiplexed exec stream into stdout/stderr strings; resolves when the process ends. */
export function collectExec(docker: Docker, stream: NodeJS.ReadableStream): Promise<{stdout: string; stderr: string}> {
  const out: Buffer[] = []
  const err: Buffer[] = []
  const stdout = new PassThrough().on('data', (c: Buffer) => out.push(c))
  const stderr = new PassThrough().on('data', (c: Buffer) => err.push(c))
  docker.modem.demuxStream(stream, stdout, stderr)
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve({stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')}))
    stream.on('error', reject)
  })
}

/**
 * Turns the engine's per-layer pull events (`Downloading` with current/total, `Download complete`,
 * `Already exists`) into running totals over every layer, reported at most every 500 ms.
 */
export function layerBytes(report: (p: {bytes: number; total: number}) => void, everyMs = 500): (event: any) => void {
  const layers = new Map<string, {current: number; total: number}>()
  let last = 0
  return (event) => {
    if (typeof event?.id !== 'string') return
    const layer = layers.get(event.id) ?? {current: 0, total: 0}
    const d = event.progressDetail
    if (event.status === 'Downloading' && d && typeof d.current === 'number') Object.assign(layer, {current: d.current, total: d.total ?? layer.total})
    else if (event.status === 'Download complete') layer.current = layer.total
    layers.set(event.id, layer)
    const now = Date.now()
    if (now - last < everyMs) return
    last = now
    let bytes = 0
    let total = 0
    for (const l of layers.values()) {
      bytes += l.current
      total += l.total
    }
    if (bytes > 0) report({bytes, total})
  }
}
