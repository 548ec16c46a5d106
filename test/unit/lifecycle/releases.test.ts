import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {checkReleaseStep, describeRelease, releaseVersion} from '../../../src/lifecycle/releases.js'

const refused = (from: string, to: string): OsctlError => {
  try {
    checkReleaseStep(from, to)
  } catch (error) {
    return error as OsctlError
  }
  throw new Error(`${from} → ${to} was allowed`)
}

describe('OpenStack release order', () => {
  it('orders names and numbers the same way', () => {
    expect(releaseVersion('zed')?.version).toBe('2022.2.0')
    expect(releaseVersion('Antelope')?.version).toBe('2023.1.0')
    expect(releaseVersion('2023.1')?.version).toBe('2023.1.0')
    expect(releaseVersion('2023.3')).toBeUndefined()
    expect(releaseVersion('latest')).toBeUndefined()
    expect(describeRelease('zed')).toBe('zed (2022.2)')
    expect(describeRelease('2023.1')).toBe('2023.1 (antelope)')
  })

  it('allows the same release, the next one, and a SLURP skip-level jump', () => {
    expect(checkReleaseStep('zed', 'zed')).toBe('same')
    expect(checkReleaseStep('zed', '2022.2')).toBe('same')
    expect(checkReleaseStep('zed', '2023.1')).toBe('next')
    expect(checkReleaseStep('zed', 'antelope')).toBe('next')
    expect(checkReleaseStep('2023.1', '2023.2')).toBe('next')
    expect(checkReleaseStep('2023.2', '2024.1')).toBe('next')
    expect(checkReleaseStep('2023.1', '2024.1')).toBe('skip-level')
    expect(checkReleaseStep('caracal', 'epoxy')).toBe('skip-level')
  })

  it('refuses a downgrade, a jump past the next release and unknown names, saying what to do (exit 2)', () => {
    const down = refused('2023.1', 'zed')
    expect(down.exitCode).toBe(2)
    expect(down.message).toBe('refusing a downgrade from 2023.1 (antelope) to zed (2022.2)')
    expect(down.hint).toMatch(/service rollback/)
    // Zed is not a SLURP release: it goes to 2023.1 first.
    const skip = refused('zed', '2024.1')
    expect(skip.exitCode).toBe(2)
    expect(skip.message).toBe('refusing to skip from zed (2022.2) to 2024.1 (caracal)')
    expect(skip.hint).toMatch(/first to 2023\.1,/)
    // 2023.2 is not a SLURP release either; 2023.1 may also go straight to 2024.1 but no further.
    expect(refused('2023.2', '2025.1').hint).toMatch(/first to 2024\.1,/)
    expect(refused('2023.1', '2025.1').hint).toMatch(/first to 2023\.2 \(or skip-level to 2024\.1/)
    const unknown = refused('zed', 'zebra')
    expect(unknown.exitCode).toBe(2)
    expect(unknown.message).toBe('unknown OpenStack release zebra')
    expect(unknown.hint).toMatch(/antelope \(2023\.1\)/)
  })
})
