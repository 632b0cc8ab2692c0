"""How this build is broken, for tests of failed deploys.

None: not broken. "health": GET /__version__ answers 500. "import": importing
sitecycle_sample.wsgi raises RuntimeError. prepareSampleSource rewrites this file.
"""

BROKEN = None
