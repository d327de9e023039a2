"""The web page and JSON API of `intermamba serve` (app.py); its static page and 3D viewer live in static/.

The defaults are here, free of imports, so that the CLI's argument parser reads them without loading torch."""

DEFAULT_MAX_SAMPLES = 4                # per request: a page's worth; more is a script's job for `generate`
DEFAULT_MAX_QUEUE = 16                 # requests waiting behind the running one
DEFAULT_CACHE_JOBS = 100               # result folders kept
DEFAULT_CACHE_BYTES = 2 ** 30          # and bytes in all
