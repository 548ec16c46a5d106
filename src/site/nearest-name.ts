/**
 * "did you mean …?" suggestions: a typo in a key or host name should be answered with the
 * name the operator most likely meant, not only with a list of everything valid.
 */
export function nearestName(word: string, candidates: Iterable<string>, maxDistance?: number): string | undefined {
  const target = word.toLowerCase()
  // Allow roughly one edit per three characters: catches ssh_prot/ssh_port, not unrelated names.
  const budget = maxDistance ?? Math.max(2, Math.floor(target.length / 3))
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    // Lengths further apart than the budget cannot be within it: skip the alignment.
    if (Math.abs(candidate.length - target.length) > budget) continue
    const d = editDistance(target, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= budget ? best : undefined
}

/** Optimal string alignment distance: Levenshtein plus adjacent swaps, the commonest typo. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = []
  for (let i = 0; i <= a.length; i++) rows.push([i])
  for (let j = 1; j <= b.length; j++) rows[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1)
      rows[i][j] = d
    }
  }
  return rows[a.length][b.length]
}
