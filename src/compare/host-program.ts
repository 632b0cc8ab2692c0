/**
 * compare's one program per site (`python3 -I -S -c`, standard library only): the live release,
 * the distributions installed in its virtualenv (importlib.metadata over its site-packages: no
 * pip, which the --without-pip virtualenvs do not have), a sha256 per release file and per data
 * file, and the rendered config, in one round trip. It prints one JSON object
 * ({@link SiteFacts}); the comparison is made in TypeScript.
 *
 * Release files are the files of the live virtualenv, by path relative to it, except what is not
 * the release: sitecycle's own files (release.json, app.ini and its hash, BAD: the config is
 * compared on its own), what `venv` makes (pyvenv.cfg, bin/python*, bin/activate*), bytecode in
 * `__pycache__` (made on the host) and the RECORD files (lists of the other files' hashes). A
 * file holding the virtualenv's own path (a console script's `#!` line) is hashed with that path
 * replaced by `<venv>`, and direct_url.json with its `url` (a per-deploy upload path) left out, so
 * the same release installed in two sites compares equal.
 */
import siteFactsProgram from '../host/site-facts.py'

/** argv: site root, mode (`blue-green` or `single`), JSON list of data folders (or shared files). Prints JSON. */
export const SITE_FACTS_PROGRAM = siteFactsProgram
