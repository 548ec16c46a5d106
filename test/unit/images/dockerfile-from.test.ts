import {describe, expect, it} from 'vitest'

import {parseFromLines} from '../../../src/images/dockerfile-from.js'

describe('parseFromLines', () => {
  it('reads a single FROM with its line number', () => {
    expect(parseFromLines('# c\nFROM reg:4000/osctl/base:zed\nRUN true\n')).toEqual([
      {ref: 'reg:4000/osctl/base:zed', stage: undefined, line: 2, isStage: false},
    ])
  })

  it('ignores --platform and other flags, records AS names case-insensitively', () => {
    const froms = parseFromLines('FROM --platform=linux/amd64 a/b:1 AS Builder\nfrom builder\n')
    expect(froms.map((f) => [f.ref, f.stage, f.isStage])).toEqual([
      ['a/b:1', 'builder', false],
      ['builder', undefined, true],
    ])
  })

  it('handles multi-stage builds with several external parents', () => {
    const froms = parseFromLines('FROM x:1 as a\nRUN make\nFROM y:2 AS b\nCOPY --from=a /o /o\nFROM a\n')
    expect(froms.filter((f) => !f.isStage).map((f) => f.ref)).toEqual(['x:1', 'y:2'])
    expect(froms.at(-1)).toMatchObject({ref: 'a', isStage: true, line: 5})
  })

  it('joins continuation lines and skips comments inside them', () => {
    const froms = parseFromLines('FROM \\\n  # platform comes later\n  --platform=$BUILDPLATFORM \\\n  img:tag\n')
    expect(froms).toEqual([{ref: 'img:tag', stage: undefined, line: 1, isStage: false}])
  })

  it('does not mistake FROM inside other instructions or comments', () => {
    expect(parseFromLines('# FROM nope\nRUN echo FROM nope\nFROM yes\n').map((f) => f.ref)).toEqual(['yes'])
  })
})
