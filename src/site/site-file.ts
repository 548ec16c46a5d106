import {open, stat} from 'node:fs/promises'

import {OsctlError} from '../errors.js'

/** Site files (osctl.yml, inventory.yml, passwords.yml) are small; a bigger one is the wrong file. */
export const SITE_FILE_MAX_BYTES = 4 * 1024 * 1024
/** An override replaces or merges into one config file. */
export const OVERRIDE_MAX_BYTES = 1024 * 1024

const KINDS: Array<[keyof import('node:fs').Stats, string]> = [
  ['isDirectory', 'a directory'],
  ['isCharacterDevice', 'a character device'],
  ['isBlockDevice', 'a block device'],
  ['isFIFO', 'a named pipe'],
  ['isSocket', 'a socket'],
]

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`
}

/**
 * Reads a text file the operator gave osctl, refusing what is not one before reading it whole:
 * a device or pipe (`osctl.yml -> /dev/zero` would never end), a file over `maxBytes` (read
 * at most maxBytes + 1 bytes, so a file that keeps growing cannot exhaust memory), or binary data
 * (a NUL byte or invalid UTF-8). undefined when the file does not exist.
 */
export async function readTextFile(file: string, maxBytes = SITE_FILE_MAX_BYTES): Promise<string | undefined> {
  const fail = (message: string, hint: string, cause?: unknown) => new OsctlError('CONFIG_INVALID', message, {location: file, hint, cause})
  let st
  try {
    st = await stat(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    if (code === 'ELOOP') throw fail(`${file} is a symbolic link loop`, 'point the link at a real file, or replace it with the file', err)
    if (code === 'EACCES') throw fail(`cannot read ${file}: permission denied`, 'check the permissions of the file and the directories above it (osctl needs to read it)', err)
    if (code === 'ENOTDIR') return undefined
    throw fail(`cannot read ${file}: ${(err as Error).message}`, 'check the file and its permissions', err)
  }
  if (!st.isFile()) {
    const kind = KINDS.find(([m]) => (st[m] as () => boolean).call(st))?.[1] ?? 'not a regular file'
    throw fail(`${file} is ${kind}, not a regular file`, 'osctl reads site files and overrides only from regular files; replace it with the file itself')
  }
  if (st.size > maxBytes) throw tooBig(file, st.size, maxBytes)
  let handle
  try {
    handle = await open(file, 'r')
  } catch (err) {
    const denied = (err as NodeJS.ErrnoException).code === 'EACCES'
    throw fail(`cannot read ${file}: ${denied ? 'permission denied' : (err as Error).message}`, 'check the file permissions (osctl needs to read it)', err)
  }
  try {
    const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size, 0) + 1))
    let length = 0
    // Read to the cap, not to st.size: the file may have grown since the stat.
    while (length < buf.length) {
      const {bytesRead} = await handle.read(buf, length, buf.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > maxBytes) throw tooBig(file, length, maxBytes)
    return decodeText(file, buf.subarray(0, length))
  } finally {
    await handle.close()
  }
}

function tooBig(file: string, size: number, maxBytes: number): OsctlError {
  return new OsctlError('CONFIG_INVALID', `${file} is too big (${formatSize(size)}; at most ${formatSize(maxBytes)})`, {
    location: file,
    hint: 'is it the right file? site files and overrides are small text files',
  })
}

/** UTF-8 text, or an error naming the line of the first byte that is not text. */
export function decodeText(file: string, buf: Buffer): string {
  const nul = buf.indexOf(0)
  let bad = nul
  let text: string | undefined
  if (nul < 0) {
    try {
      text = new TextDecoder('utf-8', {fatal: true}).decode(buf)
    } catch {
      const loose = buf.toString('utf8')
      bad = Buffer.byteLength(loose.slice(0, loose.indexOf('\uFFFD')), 'utf8')
    }
  }
  if (text !== undefined) return text.startsWith('\uFEFF') ? text.slice(1) : text
  const line = buf.subarray(0, Math.max(bad, 0)).toString('latin1').split('\n').length
  return failBinary(file, line, nul >= 0)
}

function failBinary(file: string, line: number, nul: boolean): never {
  throw new OsctlError('CONFIG_INVALID', `${file} is not a text file (${nul ? 'a NUL byte' : 'bytes that are not UTF-8'} on line ${line})`, {
    location: `${file}:${line}`,
    hint: 'site files and overrides are UTF-8 text; is it the right file?',
  })
}
