"""``python -m crawler.bazaar [--port P] [--wall-after N] ...``: serve the bazaar on 127.0.0.1."""

import sys

from crawler.bazaar.server import main

sys.exit(main())
