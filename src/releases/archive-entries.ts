/**
 * Listing the entries of release archives in Node, without Python or external tools:
 * gzip-compressed tar (ustar prefix, GNU long names and links, pax path/linkpath/size) and
 * zip (central directory, zip64, each entry's local header and CRC checked). Names are
 * computed the way Python's tarfile and zipfile compute them, since pip extracts with those.
 */
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import { createGunzip, inflateRawSync } from 'node:zlib'

/** One member of an archive, as an extractor would see it. */
export interface ArchiveEntry {
  /** Path inside the archive, as the extractor computes it. */
  name: string
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other'
  /** Target of a symlink or hardlink. */
  linkTarget?: string
  /** For `other`: what it is (e.g. `character device`), for messages. */
  description?: string
}

/** The archive cannot be read: truncated, corrupt, or uses something we do not support. */
export class ArchiveFormatError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ArchiveFormatError'
  }
}

// ---- tar ----------------------------------------------------------------------------------

const BLOCK = 512
/** Largest long-name or pax record block we keep in memory. */
const MAX_META_SIZE = 1024 * 1024

function cString(buf: Buffer, start: number, length: number): string {
  const field = buf.subarray(start, start + length)
  const nul = field.indexOf(0)
  return field.subarray(0, nul === -1 ? field.length : nul).toString('utf8')
}

/** A numeric header field: octal text, or base-256 when the high bit of the first byte is set. */
function tarNumber(buf: Buffer, start: number, length: number, offset: number): number {
  const field = buf.subarray(start, start + length)
  if (field[0] === 0x80 || field[0] === 0xff) {
    if (field[0] === 0xff)
      throw new ArchiveFormatError(`negative number in tar header at byte ${offset}`)
    let n = 0
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]
    if (!Number.isSafeInteger(n))
      throw new ArchiveFormatError(`number too large in tar header at byte ${offset}`)
    return n
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim()
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text)) {
    throw new ArchiveFormatError(`bad number '${text}' in tar header at byte ${offset}`)
  }
  return parseInt(text, 8)
}

function headerChecksumOk(header: Buffer, offset: number): boolean {
  const stored = tarNumber(header, 148, 8, offset)
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i]
    unsigned += b
    signed += b > 127 ? b - 256 : b
  }
  return stored === unsigned || stored === signed
}

/** Parse pax extended header records: `<length> <key>=<value>\n`. */
function parsePax(data: Buffer, offset: number): Map<string, string> {
  const records = new Map<string, string>()
  let pos = 0
  while (pos < data.length) {
    if (data[pos] === 0) break
    const space = data.indexOf(0x20, pos)
    const length = space === -1 ? NaN : Number(data.toString('latin1', pos, space))
    if (!Number.isInteger(length) || length <= 0 || pos + length > data.length) {
      throw new ArchiveFormatError(`bad pax header record at byte ${offset}`)
    }
    const record = data.toString('utf8', space + 1, pos + length - 1)
    const eq = record.indexOf('=')
    if (eq === -1 || data[pos + length - 1] !== 0x0a) {
      throw new ArchiveFormatError(`bad pax header record at byte ${offset}`)
    }
    records.set(record.slice(0, eq), record.slice(eq + 1))
    pos += length
  }
  return records
}

const TAR_TYPES: Record<string, ArchiveEntry['type']> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '5': 'directory'
}
const TAR_OTHER: Record<string, string> = {
  '3': 'character device',
  '4': 'block device',
  '6': 'fifo',
  S: 'GNU sparse file',
  D: 'GNU dump directory',
  M: 'GNU multi-volume continuation',
  V: 'GNU volume label'
}

/** Tar stream parser: fed bytes in chunks, it collects the entries. */
class TarParser {
  readonly entries: ArchiveEntry[] = []
  private pending: Buffer = Buffer.alloc(0)
  /** Bytes consumed so far (for messages). */
  private offset = 0
  /** Data bytes (with padding) still to skip or collect for the current header. */
  private dataLeft = 0
  /** Meaningful bytes of the current data (the rest is padding). */
  private dataSize = 0
  private collecting?: { type: string; chunks: Buffer[]; headerOffset: number }
  private longName?: string
  private longLink?: string
  private pax?: Map<string, string>
  private zeroBlocks = 0
  private ended = false

  push(chunk: Buffer): void {
    if (this.ended) return
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk
    while (!this.ended) {
      if (this.dataLeft > 0) {
        if (this.pending.length === 0) return
        const take = Math.min(this.dataLeft, this.pending.length)
        if (this.collecting) this.collecting.chunks.push(this.pending.subarray(0, take))
        this.consume(take)
        this.dataLeft -= take
        if (this.dataLeft === 0 && this.collecting) this.finishMeta()
        continue
      }
      if (this.pending.length < BLOCK) return
      const header = this.pending.subarray(0, BLOCK)
      const headerOffset = this.offset
      this.consume(BLOCK)
      this.readHeader(header, headerOffset)
    }
  }

  end(): void {
    if (this.ended) return
    if (this.dataLeft > 0 || this.pending.length > 0) {
      throw new ArchiveFormatError(
        `tar data ends in the middle of an entry (after ${this.offset} bytes)`
      )
    }
    if (this.zeroBlocks === 0) {
      throw new ArchiveFormatError(
        `tar data ends without its end-of-archive marker (after ${this.offset} bytes)`
      )
    }
  }

  private consume(n: number): void {
    this.pending = this.pending.subarray(n)
    this.offset += n
  }

  private readHeader(header: Buffer, headerOffset: number): void {
    if (header.every(b => b === 0)) {
      // One zero block already ends the archive for Python's tarfile; two is the standard.
      this.zeroBlocks++
      if (this.zeroBlocks >= 2) this.ended = true
      return
    }
    if (this.zeroBlocks > 0) {
      throw new ArchiveFormatError(
        `tar entry after the end-of-archive marker at byte ${headerOffset}`
      )
    }
    if (!headerChecksumOk(header, headerOffset)) {
      throw new ArchiveFormatError(`tar header checksum mismatch at byte ${headerOffset}`)
    }
    const type = String.fromCharCode(header[156])
    let size = tarNumber(header, 124, 12, headerOffset)
    if (type === 'L' || type === 'K' || type === 'x' || type === 'X' || type === 'g') {
      if (size > MAX_META_SIZE) {
        throw new ArchiveFormatError(
          `tar metadata entry of ${size} bytes at byte ${headerOffset} is too large`
        )
      }
      this.collecting = { type, chunks: [], headerOffset }
      this.dataSize = size
      this.dataLeft = Math.ceil(size / BLOCK) * BLOCK
      if (this.dataLeft === 0) this.finishMeta()
      return
    }
    let name = cString(header, 0, 100)
    const prefix = cString(header, 345, 155)
    // Python's tarfile joins the prefix for every non-GNU type, whatever the magic says.
    if (prefix) name = `${prefix}/${name}`
    let linkTarget = cString(header, 157, 100)
    if (this.longName !== undefined) name = this.longName
    if (this.longLink !== undefined) linkTarget = this.longLink
    const pax = this.pax
    if (pax?.has('path')) name = pax.get('path') as string
    if (pax?.has('linkpath')) linkTarget = pax.get('linkpath') as string
    if (pax?.has('size')) {
      const paxSize = Number(pax.get('size'))
      if (!Number.isSafeInteger(paxSize) || paxSize < 0) {
        throw new ArchiveFormatError(`bad pax size for entry '${name}'`)
      }
      size = paxSize
    }
    this.longName = this.longLink = this.pax = undefined

    let entryType: ArchiveEntry['type'] = TAR_TYPES[type] ?? 'other'
    if (type === '\0' && name.endsWith('/')) entryType = 'directory'
    const entry: ArchiveEntry = { name, type: entryType }
    if (entryType === 'symlink' || entryType === 'hardlink') entry.linkTarget = linkTarget
    if (entryType === 'other')
      entry.description = TAR_OTHER[type] ?? `entry of unknown type '${type}'`
    this.entries.push(entry)
    // Links, directories and devices carry no data in tar.
    const hasData = entryType === 'file' || entryType === 'other'
    this.dataLeft = hasData ? Math.ceil(size / BLOCK) * BLOCK : 0
  }

  private finishMeta(): void {
    const meta = this.collecting
    if (!meta) return
    this.collecting = undefined
    const data = Buffer.concat(meta.chunks).subarray(0, this.dataSize)
    if (meta.type === 'L') this.longName = cString(data, 0, data.length)
    else if (meta.type === 'K') this.longLink = cString(data, 0, data.length)
    else {
      const records = parsePax(data, meta.headerOffset)
      if (meta.type === 'g') {
        // A global path would rename every later member; no honest sdist has one.
        if (records.has('path') || records.has('linkpath')) {
          throw new ArchiveFormatError(`global pax header at byte ${meta.headerOffset} sets a path`)
        }
      } else {
        this.pax = records
      }
    }
  }
}

/** List the entries of a gzip-compressed tar file, reading it as a stream. */
export async function listTarGzEntries(file: string): Promise<ArchiveEntry[]> {
  const parser = new TarParser()
  try {
    const input = createReadStream(file)
    const gunzip = createGunzip()
    // pipe() does not pass read errors on; without this a missing file would never end.
    input.on('error', err => gunzip.destroy(err))
    for await (const chunk of input.pipe(gunzip)) parser.push(chunk as Buffer)
  } catch (err) {
    if (err instanceof ArchiveFormatError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw err
    throw new ArchiveFormatError(`gzip data is corrupt or truncated (${(err as Error).message})`)
  }
  parser.end()
  return parser.entries
}

// ---- zip ----------------------------------------------------------------------------------

const SIG_EOCD = 0x06054b50
const SIG_ZIP64_LOCATOR = 0x07064b50
const SIG_ZIP64_EOCD = 0x06064b50
const SIG_CENTRAL = 0x02014b50
const SIG_LOCAL = 0x04034b50
const MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024

let crcTable: Uint32Array | undefined

/** CRC-32 (IEEE), as zip stores it. */
export function crc32(data: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

interface CentralEntry {
  name: string
  method: number
  flags: number
  crc: number
  compressedSize: number
  size: number
  localOffset: number
  /** Unix mode from the external attributes, when the entry was made on Unix. */
  unixMode?: number
}

async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  const { bytesRead } = await handle.read(buf, 0, length, position)
  if (bytesRead !== length) {
    throw new ArchiveFormatError(`zip data ends early: wanted ${length} bytes at byte ${position}`)
  }
  return buf
}

function readUInt64(buf: Buffer, at: number): number {
  const n = buf.readBigUInt64LE(at)
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ArchiveFormatError('zip64 value too large')
  return Number(n)
}

async function readCentralDirectory(
  handle: fs.FileHandle,
  fileSize: number
): Promise<CentralEntry[]> {
  if (fileSize < 22) throw new ArchiveFormatError('too short to be a zip file')
  const tailLength = Math.min(fileSize, 22 + 0xffff)
  const tailStart = fileSize - tailLength
  const tail = await readAt(handle, tailStart, tailLength)
  let eocd = -1
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) <= tail.length) {
      eocd = i
      break
    }
  }
  if (eocd === -1) {
    throw new ArchiveFormatError('no end of central directory record: not a zip file, or truncated')
  }
  const eocdPos = tailStart + eocd
  if (tail.readUInt16LE(eocd + 4) !== 0 || tail.readUInt16LE(eocd + 6) !== 0) {
    throw new ArchiveFormatError('multi-disk zip archives are not supported')
  }
  let count = tail.readUInt16LE(eocd + 10)
  let cdSize = tail.readUInt32LE(eocd + 12)
  let cdOffset = tail.readUInt32LE(eocd + 16)
  let cdEnd = eocdPos
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locatorPos = eocdPos - 20
    const locator = locatorPos >= 0 ? await readAt(handle, locatorPos, 20) : undefined
    if (!locator || locator.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) {
      throw new ArchiveFormatError('zip64 end of central directory locator missing')
    }
    const zip64Pos = readUInt64(locator, 8)
    const zip64 = await readAt(handle, zip64Pos, 56)
    if (zip64.readUInt32LE(0) !== SIG_ZIP64_EOCD) {
      throw new ArchiveFormatError('zip64 end of central directory record missing')
    }
    count = readUInt64(zip64, 32)
    cdSize = readUInt64(zip64, 40)
    cdOffset = readUInt64(zip64, 48)
    cdEnd = zip64Pos
  }
  if (cdOffset + cdSize !== cdEnd) {
    throw new ArchiveFormatError(
      `central directory (${cdSize} bytes at byte ${cdOffset}) is not where the end record says`
    )
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY) throw new ArchiveFormatError('central directory is too large')
  const cd = await readAt(handle, cdOffset, cdSize)
  const entries: CentralEntry[] = []
  let pos = 0
  for (let i = 0; i < count; i++) {
    if (pos + 46 > cd.length || cd.readUInt32LE(pos) !== SIG_CENTRAL) {
      throw new ArchiveFormatError(`central directory entry ${i + 1} of ${count} is corrupt`)
    }
    const madeBy = cd.readUInt16LE(pos + 4) >> 8
    const nameLength = cd.readUInt16LE(pos + 28)
    const extraLength = cd.readUInt16LE(pos + 30)
    const commentLength = cd.readUInt16LE(pos + 32)
    const end = pos + 46 + nameLength + extraLength + commentLength
    if (end > cd.length)
      throw new ArchiveFormatError(`central directory entry ${i + 1} is truncated`)
    const flags = cd.readUInt16LE(pos + 8)
    const rawName = cd.subarray(pos + 46, pos + 46 + nameLength)
    // Bit 11: UTF-8 name; otherwise CP437, identical to ASCII for the characters checked.
    const name = rawName.toString(flags & 0x800 ? 'utf8' : 'latin1')
    const entry: CentralEntry = {
      name,
      method: cd.readUInt16LE(pos + 10),
      flags,
      crc: cd.readUInt32LE(pos + 16),
      compressedSize: cd.readUInt32LE(pos + 20),
      size: cd.readUInt32LE(pos + 24),
      localOffset: cd.readUInt32LE(pos + 42)
    }
    if (madeBy === 3) entry.unixMode = cd.readUInt32LE(pos + 38) >>> 16
    applyZip64Extra(entry, cd.subarray(pos + 46 + nameLength, pos + 46 + nameLength + extraLength))
    entries.push(entry)
    pos = end
  }
  if (pos !== cd.length) throw new ArchiveFormatError('central directory has trailing bytes')
  return entries
}

function applyZip64Extra(entry: CentralEntry, extra: Buffer): void {
  let pos = 0
  while (pos + 4 <= extra.length) {
    const id = extra.readUInt16LE(pos)
    const length = extra.readUInt16LE(pos + 2)
    if (id === 0x0001) {
      let at = pos + 4
      const take = (): number => {
        if (at + 8 > pos + 4 + length)
          throw new ArchiveFormatError(`bad zip64 extra field for '${entry.name}'`)
        const n = readUInt64(extra, at)
        at += 8
        return n
      }
      if (entry.size === 0xffffffff) entry.size = take()
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = take()
      if (entry.localOffset === 0xffffffff) entry.localOffset = take()
      return
    }
    pos += 4 + length
  }
}

/** Read one entry's data, checking its local header, size and CRC. */
async function readZipData(
  handle: fs.FileHandle,
  fileSize: number,
  entry: CentralEntry
): Promise<Buffer> {
  const local = await readAt(handle, entry.localOffset, 30)
  if (local.readUInt32LE(0) !== SIG_LOCAL) {
    throw new ArchiveFormatError(`local header of '${entry.name}' is missing (corrupt zip)`)
  }
  const nameLength = local.readUInt16LE(26)
  const extraLength = local.readUInt16LE(28)
  const localName = (await readAt(handle, entry.localOffset + 30, nameLength)).toString(
    entry.flags & 0x800 ? 'utf8' : 'latin1'
  )
  if (localName !== entry.name) {
    throw new ArchiveFormatError(
      `entry '${entry.name}' is named '${localName}' in its local header`
    )
  }
  if (entry.flags & 0x1) throw new ArchiveFormatError(`entry '${entry.name}' is encrypted`)
  const dataStart = entry.localOffset + 30 + nameLength + extraLength
  if (dataStart + entry.compressedSize > fileSize) {
    throw new ArchiveFormatError(`data of '${entry.name}' runs past the end of the file`)
  }
  const raw = await readAt(handle, dataStart, entry.compressedSize)
  let data: Buffer
  if (entry.method === 0) data = raw
  else if (entry.method === 8) {
    try {
      data = inflateRawSync(raw)
    } catch (err) {
      throw new ArchiveFormatError(`data of '${entry.name}' is corrupt (${(err as Error).message})`)
    }
  } else {
    throw new ArchiveFormatError(
      `entry '${entry.name}' uses unsupported compression method ${entry.method}`
    )
  }
  if (data.length !== entry.size || crc32(data) !== entry.crc) {
    throw new ArchiveFormatError(
      `data of '${entry.name}' does not match its size or CRC (corrupt zip)`
    )
  }
  return data
}

async function withZip<T>(
  file: string,
  fn: (handle: fs.FileHandle, size: number, entries: CentralEntry[]) => Promise<T>
): Promise<T> {
  const handle = await fs.open(file, 'r')
  try {
    const { size } = await handle.stat()
    return await fn(handle, size, await readCentralDirectory(handle, size))
  } finally {
    await handle.close()
  }
}

/**
 * List the entries of a zip file (a wheel), checking every entry's local header, size and
 * CRC so that a corrupt or truncated file is found now rather than at install time.
 */
export async function listZipEntries(file: string): Promise<ArchiveEntry[]> {
  return withZip(file, async (handle, size, central) => {
    const entries: ArchiveEntry[] = []
    for (const c of central) {
      const data = await readZipData(handle, size, c)
      const fileType = c.unixMode === undefined ? undefined : c.unixMode & 0o170000
      if (fileType === 0o120000) {
        entries.push({ name: c.name, type: 'symlink', linkTarget: data.toString('utf8') })
      } else if (c.name.endsWith('/') || fileType === 0o040000) {
        entries.push({ name: c.name, type: 'directory' })
      } else if (fileType === undefined || fileType === 0o100000 || fileType === 0) {
        entries.push({ name: c.name, type: 'file' })
      } else {
        entries.push({
          name: c.name,
          type: 'other',
          description: `special file (mode ${fileType.toString(8)})`
        })
      }
    }
    return entries
  })
}

/** The data of one member of a zip file, or undefined when there is no such member. */
export async function readZipMember(file: string, name: string): Promise<Buffer | undefined> {
  return withZip(file, async (handle, size, central) => {
    const entry = central.find(c => c.name === name)
    return entry ? readZipData(handle, size, entry) : undefined
  })
}

/** The names of the members of a zip file (central directory only; data is not read). */
export async function listZipNames(file: string): Promise<string[]> {
  return withZip(file, async (_handle, _size, central) => central.map(c => c.name))
}
