import {Errors, Flags} from '@oclif/core'

import {isHostPort} from '../site/address.js'
import {IMAGE_TAG, IMAGE_TAG_RULE, NAMESPACE, NAMESPACE_RULE} from '../site/image-ref.js'

/**
 * Flags whose values are checked like the same setting in osctl.yml, at parse time: a bad value
 * is a usage error naming the flag (exit 2) before the site is read or any host is touched.
 */
const checked = (test: (v: string) => boolean, rule: string) => async (input: string) => {
  if (!test(input)) throw new Errors.CLIError(`${rule}, not ${JSON.stringify(input)}`, {exit: 2})
  return input
}

/** An image tag, checked like `image_tag` (no '', no spaces, no slashes: `--tag ../../x` is refused). */
export const tagFlag = Flags.custom<string>({parse: checked((v) => IMAGE_TAG.test(v), IMAGE_TAG_RULE)})

/** A registry namespace, checked like `namespace`. */
export const namespaceFlag = Flags.custom<string>({parse: checked((v) => NAMESPACE.test(v), NAMESPACE_RULE)})

/** HOST:PORT, checked like `registry`. */
export const registryFlag = Flags.custom<string>({parse: checked(isHostPort, 'must be HOST:PORT (IPv6: [fd00::2]:4000)')})

/** A comma-separated list that must name something: `--services ""` is a mistake, not "nothing". */
export const listFlag = Flags.custom<string>({
  parse: checked((v) => v.split(',').some((s) => s.trim() !== ''), 'must name at least one item (comma-separated)'),
})
