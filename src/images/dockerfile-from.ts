/** One FROM instruction of a rendered Dockerfile. */
export interface FromLine {
  /** The image (or earlier stage) named after FROM and its flags. */
  ref: string
  /** The stage name given with `AS name`, if any. */
  stage?: string
  /** 1-based line in the rendered Dockerfile. */
  line: number
  /** True when ref names an earlier stage of the same Dockerfile, not an image. */
  isStage: boolean
}

/**
 * Reads the FROM lines the way the builder does: comments skipped, `\` continuations joined,
 * flags such as `--platform=…` ignored, `AS name` recorded so later `FROM name` is not mistaken
 * for an external parent.
 */
export function parseFromLines(dockerfile: string): FromLine[] {
  const result: FromLine[] = []
  const stages = new Set<string>()
  for (const {text, line} of logicalLines(dockerfile)) {
    const words = text.trim().split(/\s+/)
    if (words[0]?.toUpperCase() !== 'FROM') continue
    const args = words.slice(1).filter((w) => !w.startsWith('--'))
    const ref = args[0]
    if (!ref) continue
    const stage = args[1]?.toUpperCase() === 'AS' ? args[2]?.toLowerCase() : undefined
    result.push({ref, stage, line, isStage: stages.has(ref.toLowerCase())})
    if (stage) stages.add(stage)
  }
  return result
}

function logicalLines(dockerfile: string): Array<{text: string; line: number}> {
  const out: Array<{text: string; line: number}> = []
  let current: {text: string; line: number} | undefined
  dockerfile.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim()
    // Comment lines inside a continuation are dropped by the builder too.
    if (trimmed.startsWith('#')) return
    const continues = trimmed.endsWith('\\')
    const text = continues ? trimmed.slice(0, -1) : trimmed
    if (current) current.text += ` ${text}`
    else current = {text, line: i + 1}
    if (!continues) {
      out.push(current)
      current = undefined
    }
  })
  if (current) out.push(current)
  return out
}
