import { cmd, type Command } from './command.js'
import commitFileProgram from '../host/commit-file.py'
import pathIdentitiesProgram from '../host/path-identities.py'

/** `mkdir -p` with a mode for the leaves. */
export function makeDirs(dirs: string[], mode = '755'): Command {
  return cmd(['mkdir', '-p', '-m', mode, ...dirs])
}

/** `rm -rf -- <paths>` (callers pass only paths they built from the site layout). */
export function removeTree(...paths: string[]): Command {
  return cmd(['rm', '-rf', '--', ...paths])
}

/** Append text to a file (O_APPEND: whole lines from concurrent writers stay whole). */
export function appendFile(path: string, text: string): Command {
  return cmd(['tee', '-a', path], { input: text })
}

/**
 * Append text to a file and fsync it before exiting: `dd` reading the whole text (up to 1 MiB:
 * `iflag=fullblock`) and writing it in one O_APPEND write, then `conv=fsync`. For a write-ahead
 * record that must be on disk before what it announces is done, in a file that is there already
 * (a site's journal, from its first operation on): its folder is not synced.
 */
export function appendFileDurably(path: string, text: string): Command {
  return cmd(
    [
      'dd',
      `of=${path}`,
      'oflag=append',
      'conv=notrunc,fsync',
      'bs=1M',
      'iflag=fullblock',
      'status=none'
    ],
    { input: text }
  )
}

/** `chmod <mode> <paths>` */
export function changeMode(mode: string, ...paths: string[]): Command {
  return cmd(['chmod', mode, ...paths])
}

/** `chown <owner> <paths>` */
export function changeOwner(owner: string, ...paths: string[]): Command {
  return cmd(['chown', owner, ...paths])
}

/** `ln -sfn <target> <link>` (not atomic: for links nothing serves from yet). */
export function makeLink(target: string, link: string): Command {
  return cmd(['ln', '-sfn', target, link])
}

/** `test -e <path>` */
export function pathExists(path: string): Command {
  return cmd(['test', '-e', path])
}

/** `rm -f -- <path>` */
export function removeFile(path: string): Command {
  return cmd(['rm', '-f', '--', path])
}

/** `mv -T <from> <to>`: one rename(2). */
export function renamePath(from: string, to: string): Command {
  return cmd(['mv', '-T', from, to])
}

/**
 * Host program, argv: paths. Prints a JSON list with, for each path, `device:inode` of what is
 * there (not following a last symlink), or null when nothing is.
 */
export const PATH_IDENTITIES = pathIdentitiesProgram

/** `python -c PATH_IDENTITIES <paths...>`: what each path is (device:inode), or null. */
export function pathIdentities(python: string, paths: string[]): Command {
  return cmd([python, '-I', '-S', '-c', PATH_IDENTITIES, ...paths])
}

/** `ln -sfnT <target> <link>`: a link at exactly `link` (fails rather than link inside a folder there). */
export function makeLinkAt(target: string, link: string): Command {
  return cmd(['ln', '-sfnT', target, link])
}

/** `chown -R <owner> -- <path>`: a whole tree (symbolic links themselves, never what they point at). */
export function changeTreeOwner(owner: string, path: string): Command {
  return cmd(['chown', '-R', '-h', owner, '--', path])
}

/**
 * `chown -R -h --from=<from> <owner> -- <path>`: what `from` owns in a tree given to `owner`
 * (symbolic links themselves); the groups are kept.
 */
export function takeTreeBack(from: string, owner: string, path: string): Command {
  return cmd(['chown', '-R', '-h', `--from=${from}`, owner, '--', path])
}

/** `find <path> -user <user> -print -quit`: prints one path `user` owns in the tree, if any. */
export function firstOwnedBy(user: string, path: string): Command {
  return cmd(['find', path, '-user', user, '-print', '-quit'])
}

/** host/commit-file.py: argv path, mode (octal); stdin the content. */
export const COMMIT_FILE_PROGRAM = commitFileProgram

/**
 * Write `content` to `path` durably and all at once (host/commit-file.py: `<path>.tmp` with
 * `mode`, and `group` when given, fsync, rename, fsync of the folder), run by `python` on the
 * host; one command, where writeFile then `mv` were two and synced nothing.
 */
export function commitFile(
  python: string,
  path: string,
  content: string,
  mode: number,
  group?: string
): Command {
  const argv = [python, '-I', '-S', '-c', commitFileProgram, path, mode.toString(8)]
  return cmd(group === undefined ? argv : [...argv, group], { input: content })
}
