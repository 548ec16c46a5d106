import {randomBytes} from 'node:crypto'
import {chmod, open, rename, unlink} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

/**
 * A local file written whole or not at all: a temp file in the same dir created with `mode` from
 * the start (a secret is never readable by others, not even briefly), fsync, rename over the file.
 */
export async function writeFileAtomicLocal(file: string, content: string, mode: number): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(tmp, 'wx', mode)
  try {
    await handle.writeFile(content, 'utf8')
    await handle.sync()
    await handle.close()
    // open()'s mode is filtered by the umask.
    await chmod(tmp, mode)
    await rename(tmp, file)
  } catch (err) {
    await handle.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
}
