/** A ustar writer for the store's pages, so they reach its host in one `tar -x`. */
import { SitecycleError } from '../../util/errors.js'

/**
 * A ustar archive of small text files (the index pages), so that all of them reach the store's
 * host in one command (`tar -x`) instead of one round trip each. Names are relative paths.
 */
export function tarArchive(entries: { name: string; content: string; mode?: number }[]): Buffer {
  const blocks: Buffer[] = []
  const mtime = Math.floor(Date.now() / 1000)
  for (const e of entries) {
    const data = Buffer.from(e.content, 'utf8')
    let name = e.name
    let prefix = ''
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', 155)
      prefix = name.slice(0, cut)
      name = name.slice(cut + 1)
      if (cut <= 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155)
        throw new SitecycleError(`path ${e.name} is too long for the store's index`, 'release')
    }
    const header = Buffer.alloc(512)
    const field = (text: string, offset: number, length: number): void => {
      header.write(text, offset, length, 'utf8')
    }
    const octal = (n: number, offset: number, length: number): void =>
      field(`${n.toString(8).padStart(length - 1, '0')}\0`, offset, length)
    field(name, 0, 100)
    octal(e.mode ?? 0o644, 100, 8)
    octal(0, 108, 8)
    octal(0, 116, 8)
    octal(data.length, 124, 12)
    octal(mtime, 136, 12)
    header.fill(' ', 148, 156) // the checksum is computed over spaces in its own field
    field('0', 156, 1)
    field('ustar\0', 257, 6)
    field('00', 263, 2)
    field(prefix, 345, 155)
    let sum = 0
    for (const byte of header) sum += byte
    field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8)
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}
