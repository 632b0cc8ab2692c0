/**
 * The watch's one program on the host (`python3 -I -S -c`, standard library only): it reads the
 * site's links, then hashes every file of the live virtualenv against the RECORD files of the
 * wheels installed there, and the rendered config against the hash recorded at deploy time, in
 * one round trip. It prints one JSON object ({@link WatchFacts}); the judgement is made in
 * TypeScript (watch.ts).
 *
 * What counts as an added file: anything under the virtualenv that no RECORD lists, except
 *  - what `python -m venv` itself makes (pyvenv.cfg, bin/python*, bin/activate*, the lib64 link);
 *    the interpreter links are checked to point at the interpreter pyvenv.cfg names instead;
 *  - what sitecycle writes into a release (release.json, app.ini, app.ini.sha256, env.json, BAD),
 *    and the links to the site's shared entries (argv 4), when they point where they should;
 *  - bytecode in a `__pycache__` folder whose source file is listed (with a hash) in a RECORD
 *    and that holds what that source compiles to: the code object unmarshalled from the `.pyc`
 *    must equal the source compiled here (same interpreter, same optimization level), whatever
 *    its header says (a header can be made to match the source). A `.pyc` that differs, or is
 *    for another interpreter (it cannot be checked), is reported as modified; one without a
 *    recorded source, or outside `__pycache__`, as added.
 * Files the release held when it was installed that no RECORD lists (what its after_install hooks
 * made: collected static files, compiled translations) are kept in release.json (`made`, written
 * by complete-release) with their sha256: such a file is part of the release, and reported when
 * it changed or is gone.
 * RECORD files carry no hash of their own: the deploy keeps the sha256 of each in release.json
 * (`records`, written by complete-release); a RECORD that differs from it, or that it does not
 * list, is reported (a file edited together with its RECORD line). A release installed before
 * release.json kept them is checked against its RECORDs alone.
 */
import watchProgram from '../host/watch.py'

/**
 * argv: site root, mode (`blue-green` or `single`), cap (most paths listed per kind), and
 * optionally a JSON object of the shared links a release holds (path in it → target). Prints
 * JSON: the links (live.map, slots, current), the live virtualenv, and what was found in it.
 */
export const WATCH_PROGRAM = watchProgram
