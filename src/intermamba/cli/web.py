"""`intermamba serve`: the web page and JSON API (serve/app.py) over one loaded model."""

from __future__ import annotations

from .errors import CLIError
from .threads import add_threads_argument, apply_threads

DEFAULT_HOST = "127.0.0.1"     # this machine only; another address is the user's explicit choice
DEFAULT_PORT = 7860


def _add_serve(sub):
    from ..serve import DEFAULT_CACHE_BYTES, DEFAULT_CACHE_JOBS, DEFAULT_MAX_QUEUE, DEFAULT_MAX_SAMPLES

    p = sub.add_parser("serve", help="web page and JSON API: prompt in, 3D view, video and files out")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on, and only there (default "
                                                        f"{DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument("--checkpoint", help="exported model folder (default: the shipped demo model)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--cache", metavar="DIR", help="results folder (default: ~/.cache/intermamba/serve, or under "
                                                  "$INTERMAMBA_CACHE)")
    p.add_argument("--cache-jobs", type=int, default=DEFAULT_CACHE_JOBS,
                   help=f"results of at most this many requests are kept, oldest removed (default {DEFAULT_CACHE_JOBS})")
    p.add_argument("--cache-mb", type=float, default=DEFAULT_CACHE_BYTES / 2 ** 20,
                   help=f"and at most this many MB in all (default {DEFAULT_CACHE_BYTES / 2 ** 20:g})")
    p.add_argument("--max-samples", type=int, default=DEFAULT_MAX_SAMPLES,
                   help=f"samples per request at most (default {DEFAULT_MAX_SAMPLES})")
    p.add_argument("--max-queue", type=int, default=DEFAULT_MAX_QUEUE,
                   help=f"requests waiting at most; more are refused with 503 (default {DEFAULT_MAX_QUEUE})")
    add_threads_argument(p)


def _run_serve(args):
    from ..fileio import cache_dir
    from ..pipeline import check_count

    try:
        for value, flag in ((args.cache_jobs, "--cache-jobs"), (args.max_samples, "--max-samples"),
                            (args.max_queue, "--max-queue")):
            check_count(value, flag)
    except ValueError as err:
        raise CLIError(str(err)) from None
    if not args.cache_mb > 0:
        raise CLIError(f"--cache-mb must be a positive number, got {args.cache_mb}")
    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be in 0..65535, got {args.port}")
    from importlib.util import find_spec

    if find_spec("fastapi") is None or find_spec("uvicorn") is None:
        raise CLIError("intermamba serve needs FastAPI and uvicorn: pip install 'intermamba[web]'")
    from pathlib import Path

    from ..pipeline import InterMambaPipeline
    from ..serve.app import GenerationService, ResultCache, build_server, create_app

    folder = Path(args.cache) if args.cache else cache_dir("serve")
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"--cache {folder} is a file, not a folder; give a folder")
    apply_threads(args.threads)
    try:
        pipe = InterMambaPipeline.from_pretrained(args.checkpoint, device=args.device)
    except (ValueError, FileNotFoundError) as err:
        raise CLIError(str(err)) from None
    cache = ResultCache(folder, max_jobs=args.cache_jobs, max_bytes=int(args.cache_mb * 2 ** 20))
    service = GenerationService(pipe, cache, max_samples=args.max_samples, max_queue=args.max_queue)
    server = build_server(create_app(service), args.host, args.port, on_exit=service.stop)
    print(f"model {pipe.source} on {pipe.device}; results in {folder}/", flush=True)
    try:
        server.run()                # returns on Ctrl-C / SIGTERM, within SHUTDOWN_SECONDS
    except KeyboardInterrupt:       # uvicorn raises the Ctrl-C it caught again once it has stopped
        pass
    except SystemExit:              # uvicorn exits when it cannot bind, after logging why
        raise CLIError(f"cannot listen on {args.host}:{args.port} (in use, or not this machine's address); "
                       "try another --port or --host") from None
    finally:
        service.stop(wait=30)      # a job writing its files finishes them
    if not server.started:
        raise CLIError(f"cannot listen on {args.host}:{args.port}; try another --port or --host")
    print("stopped")
