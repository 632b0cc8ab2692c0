// zod, configured once for sitecycle: every schema here is built and parsed a few times per
// process (one config, a few manifests), so zod's JIT (a `new Function` compiled per object
// schema on first parse) costs more than it saves: about 20 ms of a SQLite snapshot's 0.35 s
// (bench/README.md, "Round 14"). Schema modules import `z` from here, never from 'zod': the
// setting must be in place before the first `z.object` is built.
import { z } from 'zod'

z.config({ jitless: true })

export { z }
