import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {chooseProgress} from '../../../src/events/choose-renderer.js'
import {describeEvent} from '../../../src/events/describe.js'
import {LiveRenderer} from '../../../src/events/render-live.js'
import {ndjsonRenderer, plainRenderer} from '../../../src/events/render-lines.js'
import {EventSink, RecordingReporter, makeEvent} from '../../../src/events/reporters.js'
import {runCli} from '../../helpers/cli.js'

/** A stream that records what a renderer writes, looking like a TTY of `columns` width. */
function fakeTty(columns = 80) {
  const chunks: string[] = []
  return {chunks, stream: {isTTY: true, columns, write: (s: string) => chunks.push(s) > 0} as unknown as NodeJS.WriteStream}
}

describe('events', () => {
  it('carry a code, a level, the host and typed data; failures are errors', () => {
    const r = new RecordingReporter()
    r.emit('image.build.failed', {image: 'etcd', seconds: 3, error: 'exit 100', logTail: ['E: boom']})
    r.emit('service.container.done', {service: 'keystone', container: 'keystone', status: 'unchanged', changed: [], revision: 2, health: 'ok'}, 'h1')
    expect(r.events.map((e) => [e.code, e.level, e.host])).toEqual([
      ['image.build.failed', 'error', undefined],
      ['service.container.done', 'info', 'h1'],
    ])
    expect(r.of('service.container.done')[0].data.revision).toBe(2)
    expect(Date.parse(r.events[0].time)).not.toBeNaN()
  })

  it('plain lines put the host first and the detail under a failure; progress is throttled per subject', () => {
    const out: string[] = []
    const sink = new EventSink(plainRenderer((s) => out.push(s), 60_000))
    sink.emit('image.build.failed', {image: 'etcd', seconds: 3, error: 'exit 100', logTail: ['E: boom']})
    sink.emit('service.revision', {service: 'nova', revision: 3, previous: 2}, 'h1')
    for (let i = 1; i <= 5; i++) sink.emit('image.build.step', {image: 'nova-base', step: i, of: 5, instruction: 'RUN x'})
    sink.emit('image.build.step', {image: 'keystone', step: 1, of: 3, instruction: 'FROM y'})
    expect(out.join('')).toBe(
      ['✖ etcd failed after 3.0s: exit 100', '    E: boom', '… [h1] nova revision 3 (was 2)', '… nova-base step 1/5: RUN x', '… keystone step 1/3: FROM y', ''].join('\n'),
    )
  })

  it('NDJSON is one parseable event per line', () => {
    const out: string[] = []
    const sink = new EventSink(ndjsonRenderer((s) => out.push(s)))
    sink.emit('db.snapshot', {service: 'keystone', databases: ['keystone'], revision: 4, bytes: 1200}, 'h1')
    sink.emit('image.pull.done', {refs: ['r/keystone:2'], hosts: 2})
    const docs = out.join('').trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(docs.map((d) => [d.code, d.host, d.data])).toEqual([
      ['db.snapshot', 'h1', {service: 'keystone', databases: ['keystone'], revision: 4, bytes: 1200}],
      ['image.pull.done', undefined, {refs: ['r/keystone:2'], hosts: 2}],
    ])
  })

  it('the live view keeps one row per host while it works, and prints finished steps above it', () => {
    const {chunks, stream} = fakeTty(40)
    const live = new LiveRenderer(stream)
    const sink = new EventSink(live.onEvent)
    sink.emit('service.step.start', {service: 'keystone', step: 'db-sync', phase: 'bootstrap'}, 'h1')
    sink.emit('image.pull.progress', {ref: 'reg/nova-api:2', bytes: 5e6, total: 1e7}, 'h2')
    const rows = chunks.at(-1)!.split('\n').filter(Boolean)
    expect(rows).toHaveLength(2)
    expect(rows[0]).toMatch(/^. \[h1\] keystone bootstrap step db-sync/)
    expect(rows.every((r) => r.length <= 40)).toBe(true)
    sink.emit('service.step.done', {service: 'keystone', step: 'db-sync', phase: 'bootstrap', seconds: 4.2}, 'h1')
    const after = chunks.join('')
    expect(after).toContain('\x1b[2A\x1b[J') // the two rows were erased before the finished line
    expect(after).toContain('✔ [h1] keystone bootstrap step db-sync done in 4.2s\n')
    live.stop()
    expect(chunks.at(-1)).toBe('\x1b[1A\x1b[J') // h2's row, taken off at the end
  })

  it('auto is live on a TTY, NDJSON with --json, plain elsewhere', () => {
    const kinds = (tty: boolean, json: boolean) => {
      const out: string[] = []
      const stream = {isTTY: tty, columns: 80, write: (s: string) => out.push(s) > 0} as unknown as NodeJS.WriteStream
      chooseProgress('auto', {json, stream}).reporter.emit('lab.removed', {name: 'x'})
      return out.join('')
    }
    expect(kinds(false, false)).toBe('✔ x removed\n')
    expect(JSON.parse(kinds(false, true)).code).toBe('lab.removed')
    expect(kinds(true, true)).toMatch(/^\{/)
  })

  it('every code has words (describeEvent never throws for a known code)', () => {
    expect(describeEvent(makeEvent('system.pruned', {name: 'etcd', revisions: [1, 2], keep: 3})).text).toBe('pruned revisions 1, 2 (keeping the 3 before the current one and both slots)')
  })

  it('`--progress json` from the real CLI is NDJSON on stderr, stdout untouched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osctl-events-'))
    try {
      const r = await runCli(['genpwd', '--site', dir, '--progress', 'json'])
      expect(r.exitCode, r.stderr).toBe(0)
      const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l))
      expect(events.map((e) => e.code)).toEqual(['site.passwords'])
      expect(events[0].data.added).toBeGreaterThan(5)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('pull progress', () => {
  it('sums the layers of a pull into bytes so far and the total announced', async () => {
    const {layerBytes} = await import('../../../src/docker/streams.js')
    const seen: Array<{bytes: number; total: number}> = []
    const feed = layerBytes((p) => seen.push(p), 0)
    feed({status: 'Pulling fs layer', id: 'a'})
    feed({status: 'Downloading', id: 'a', progressDetail: {current: 100, total: 1000}})
    feed({status: 'Downloading', id: 'b', progressDetail: {current: 50, total: 500}})
    feed({status: 'Download complete', id: 'a'})
    feed({status: 'Digest: sha256:…'})
    expect(seen).toEqual([
      {bytes: 100, total: 1000},
      {bytes: 150, total: 1500},
      {bytes: 1050, total: 1500},
    ])
  })
})
