import type {Hook} from '@oclif/core'

import {ExitCode, OsctlError} from '../errors.js'
import {nearestName} from '../site/nearest-name.js'

/**
 * `osctl servce list`, `osctl service list extra`, `osctl image`-typos: a usage error (exit 2)
 * that names the nearest command, never an interactive prompt (osctl runs in scripts), and one
 * JSON document on stdout with --json like every other error.
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const err = notFoundError(opts.id, opts.argv ?? [], opts.config.commandIDs, opts.config.topics.map((t) => t.name), opts.config.bin)
  const json = (opts.argv ?? []).includes('--json')
  if (json) {
    process.stdout.write(`${JSON.stringify({ok: false, command: opts.id.replaceAll(':', ' '), exitCode: err.exitCode, hosts: [], error: err.toJSON()}, null, 2)}\n`)
  } else {
    process.stderr.write(`Error: ${err.headline}\nHint: ${err.hint}\n`)
  }
  this.exit(ExitCode.USAGE)
}

export default hook

/** The usage error for an id oclif could not resolve; exported for tests. */
export function notFoundError(id: string, argv: string[], commandIds: string[], topics: string[], bin = 'osctl'): OsctlError {
  const words = id.split(':')
  const spaced = (ids: string) => ids.replaceAll(':', ' ')
  // The longest prefix that is a command: the rest are arguments it does not take.
  for (let n = words.length - 1; n > 0; n--) {
    const prefix = words.slice(0, n).join(':')
    if (commandIds.includes(prefix)) {
      const extra = words.slice(n)
      return new OsctlError('USAGE', `${bin} ${spaced(prefix)} takes no argument ${extra.join(' ')}`, {
        hint: `see \`${bin} ${spaced(prefix)} --help\``,
        details: {argv},
      })
    }
  }
  const typed = words.join(' ')
  const inTopic = topics.includes(words[0]) && words.length > 1
  let hint: string
  if (inTopic) {
    // `service lst`: the topic is right, only its command is mistyped.
    const own = commandIds.filter((c) => c.startsWith(`${words[0]}:`)).map((c) => spaced(c).slice(words[0].length + 1))
    const guess = nearestName(words.slice(1).join(' '), own)
    hint = guess ? `did you mean \`${bin} ${words[0]} ${guess}\`?` : `\`${bin} ${words[0]} --help\` lists its commands: ${own.join(', ')}`
  } else {
    // Compare whole commands ("servce list" → "service list") and, for a lone word, topics too.
    const guess = nearestName(typed, [...commandIds.map(spaced), ...(words.length === 1 ? topics : [])])
    const topic = nearestName(words[0], topics)
    hint = guess
      ? `did you mean \`${bin} ${guess}\`? (\`${bin} help\` lists every command)`
      : topic
        ? `did you mean \`${bin} ${topic} …\`? (\`${bin} ${topic} --help\` lists its commands)`
        : `\`${bin} help\` lists every command`
  }
  return new OsctlError('USAGE', `${bin} has no command ${typed}`, {hint, details: {argv}})
}
