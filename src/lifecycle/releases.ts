import semver from 'semver'

import {OsctlError} from '../errors.js'

/**
 * OpenStack release order. Since 2023 a release is `YEAR.N` (N = 1 spring, 2 autumn) and also has a
 * name; earlier ones only a name. Each maps to the semver `YEAR.N.0`, so semver orders them.
 * Upgrades go to the next release, or skip one from a SLURP release (a `YEAR.1`, from 2023.1 on)
 * to the next SLURP release, as OpenStack and kolla support; never backwards.
 */
const NAMED: ReadonlyArray<[string, string]> = [
  ['victoria', '2020.2'],
  ['wallaby', '2021.1'],
  ['xena', '2021.2'],
  ['yoga', '2022.1'],
  ['zed', '2022.2'],
  ['antelope', '2023.1'],
  ['bobcat', '2023.2'],
  ['caracal', '2024.1'],
  ['dalmatian', '2024.2'],
  ['epoxy', '2025.1'],
  ['flamingo', '2025.2'],
  ['gazpacho', '2026.1'],
]

const NUMBERED = /^(20\d\d)\.([12])$/

/** `zed` → 2022.2.0, `2023.1` / `antelope` → 2023.1.0; undefined for anything else. */
export function releaseVersion(release: string): semver.SemVer | undefined {
  const r = release.trim().toLowerCase()
  const number = NAMED.find(([name]) => name === r)?.[1] ?? (NUMBERED.test(r) ? r : undefined)
  return number === undefined ? undefined : (semver.coerce(number) ?? undefined)
}

/** How the release after `v` is spelled: 2022.2 → 2023.1, 2023.1 → 2023.2. */
function next(v: semver.SemVer): string {
  return v.minor === 1 ? `${v.major}.2.0` : `${v.major + 1}.1.0`
}

/** `zed (2022.2)`, `2023.1 (antelope)`; the text as given when it is unknown. */
export function describeRelease(release: string): string {
  const v = releaseVersion(release)
  if (!v) return release
  const number = `${v.major}.${v.minor}`
  const name = NAMED.find(([, n]) => n === number)?.[0]
  const other = release.toLowerCase() === number ? name : number
  return other ? `${release} (${other})` : release
}

export type ReleaseStep = 'same' | 'next' | 'skip-level'

/**
 * Whether a cloud running `from` may go to `to`: the same release (a new build of it), the next
 * one, or a SLURP skip-level jump. Anything else is refused with what to do instead (exit 2).
 */
export function checkReleaseStep(from: string, to: string): ReleaseStep {
  const a = releaseVersion(from)
  const b = releaseVersion(to)
  const known = NAMED.map(([n, v]) => `${n} (${v})`).join(', ')
  if (!a || !b) {
    throw new OsctlError('USAGE', `unknown OpenStack release ${!a ? from : to}`, {hint: `releases are named by number (2023.1) or name: ${known}`})
  }
  const cmp = semver.compare(a, b)
  if (cmp === 0) return 'same'
  if (cmp > 0) {
    throw new OsctlError('USAGE', `refusing a downgrade from ${describeRelease(from)} to ${describeRelease(to)}`, {
      hint: 'a database migrated by the newer release cannot be used by the older one; to go back, use `osctl service rollback SERVICE` (per service, with its database snapshot)',
    })
  }
  const step = next(a)
  if (b.version === step) return 'next'
  const slurp = a.minor === 1 && a.major >= 2023 && b.minor === 1 && b.major === a.major + 1
  if (slurp) return 'skip-level'
  throw new OsctlError('USAGE', `refusing to skip from ${describeRelease(from)} to ${describeRelease(to)}`, {
    hint: `upgrade one release at a time: first to ${step.replace(/\.0$/, '')}${a.minor === 1 && a.major >= 2023 ? ` (or skip-level to ${a.major + 1}.1, both SLURP releases)` : ''}, then on`,
  })
}
