/** service → every service it needs, directly or through another. */
export function dependencyClosure(depends: Record<string, string[]>): (service: string) => Set<string> {
  const memo = new Map<string, Set<string>>()
  const of = (s: string, path: string[]): Set<string> => {
    const known = memo.get(s)
    if (known) return known
    if (path.includes(s)) throw new Error(`dependency cycle: ${[...path, s].join(' → ')}`)
    const all = new Set<string>()
    for (const d of depends[s] ?? []) {
      all.add(d)
      for (const x of of(d, [...path, s])) all.add(x)
    }
    memo.set(s, all)
    return all
  }
  return (s) => of(s, [])
}
