/**
 * A unified diff (`diff -u` format, 3 lines of context) of two texts, for `deploy --dry-run`.
 * Config files are small; a pair too big for the LCS table (more than MAX_CELLS) is shown as one
 * hunk that replaces the whole file, which is still a valid diff.
 */
const MAX_CELLS = 4_000_000

type Op = {kind: ' ' | '-' | '+'; line: string}

export function unifiedDiff(before: string, after: string, labels: {from: string; to: string}, context = 3): string {
  if (before === after) return ''
  const a = splitLines(before)
  const b = splitLines(after)
  const ops = a.length * b.length > MAX_CELLS ? [...a.map((line) => ({kind: '-' as const, line})), ...b.map((line) => ({kind: '+' as const, line}))] : lcsOps(a, b)
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`]
  for (const hunk of hunks(ops, context)) out.push(...hunk)
  return `${out.join('\n')}\n`
}

function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

function lcsOps(a: string[], b: string[]): Op[] {
  // Common prefix and suffix first: most config changes touch a few lines in the middle.
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--
    endB--
  }
  const ma = a.slice(start, endA)
  const mb = b.slice(start, endB)
  const n = ma.length
  const m = mb.length
  const table = new Uint32Array((n + 1) * (m + 1))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * (m + 1) + j] = ma[i] === mb[j] ? table[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(table[(i + 1) * (m + 1) + j], table[i * (m + 1) + j + 1])
    }
  }
  const ops: Op[] = a.slice(0, start).map((line) => ({kind: ' ', line}))
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && ma[i] === mb[j]) {
      ops.push({kind: ' ', line: ma[i++]})
      j++
    } else if (i < n && (j === m || table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1])) ops.push({kind: '-', line: ma[i++]})
    else ops.push({kind: '+', line: mb[j++]})
  }
  for (const line of a.slice(endA)) ops.push({kind: ' ', line})
  return ops
}

function hunks(ops: Op[], context: number): string[][] {
  const changed = ops.map((o, i) => (o.kind === ' ' ? -1 : i)).filter((i) => i >= 0)
  const result: string[][] = []
  let k = 0
  while (k < changed.length) {
    const first = Math.max(0, changed[k] - context)
    let last = changed[k]
    while (k + 1 < changed.length && changed[k + 1] - last <= 2 * context) last = changed[++k]
    k++
    const end = Math.min(ops.length, last + context + 1)
    // Line numbers: count the old and new lines before the hunk.
    let oldLine = 1
    let newLine = 1
    for (const o of ops.slice(0, first)) {
      if (o.kind !== '+') oldLine++
      if (o.kind !== '-') newLine++
    }
    const body = ops.slice(first, end)
    const oldCount = body.filter((o) => o.kind !== '+').length
    const newCount = body.filter((o) => o.kind !== '-').length
    const range = (line: number, count: number) => `${count === 0 ? line - 1 : line}${count === 1 ? '' : `,${count}`}`
    result.push([`@@ -${range(oldLine, oldCount)} +${range(newLine, newCount)} @@`, ...body.map((o) => `${o.kind}${o.line}`)])
  }
  return result
}
