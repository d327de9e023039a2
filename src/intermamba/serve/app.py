"""`intermamba serve`: the web page and its JSON API over one InterMambaPipeline.

    app = create_app(GenerationService(pipe, ResultCache(folder)))   # a FastAPI app; run_server() binds it

Routes: `/` the page (static/index.html + viewer.js), `GET /api/info` the model's limits and defaults,
`POST /api/jobs` queue a request (JSON, the fields of FIELDS) -> {id, state, position}, `GET /api/jobs/{id}`
its state, queue position, progress and, once done, its samples' file URLs, `POST /api/generate` the same
request answered when done, `GET /api/jobs/{id}/samples/{k}/joints` a sample's joints as JSON for the 3D
view, `GET /api/results/{id}/{name}` a result file.

A request is read exactly as `intermamba generate` reads its flags: the JSON fields fill a `generate` argument
namespace and go through cli.motion_io.plan_generate / check_plan (and constraint_inputs for the uploaded
control files), so a bad field gets the CLI's one-line message, with status 400. One worker thread runs the
jobs one at a time, in order, through cli.motion_io.write_plan (the CLI's own writer, export.write_sample);
the HTTP server answers meanwhile. Results live in one folder per job under the cache folder, which keeps at
most `max_jobs` jobs and `max_bytes` bytes (oldest removed first). Only files inside a job's folder are served,
named by job id and file name.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from ..export import output_files
from ..skeleton import FPS, PARENTS
from . import DEFAULT_CACHE_BYTES, DEFAULT_CACHE_JOBS, DEFAULT_MAX_QUEUE, DEFAULT_MAX_SAMPLES

STATIC = Path(__file__).parent / "static"
WEB_FORMATS = "mp4,npy,bvh,glb,json"
MAX_BODY_BYTES = 32 * 2 ** 20          # a request with its uploaded control files
SHUTDOWN_SECONDS = 3
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")   # no separators, no leading dot (temp files)

# JSON field -> (type(s) it must have, the `generate` argument it sets). Uploaded files are objects
# {"name": "walk.bvh", "data": "<base64>"}: a request never names a file on the server.
UPLOAD = dict
FIELDS = {
    "text": (str, "texts"), "frames": (int, "frames"), "seconds": ((int, float), "seconds"),
    "seed": (int, "seed"), "num_samples": (int, "num_samples"), "steps": (int, "steps"),
    "guidance": ((int, float), "guidance"), "placement_guidance": ((int, float), "placement_guidance"),
    "sampler": (str, "sampler"), "timeline": (str, "timeline"),
    "partner": (UPLOAD, "partner"), "partner_index": (int, "partner_index"), "keyframes": (UPLOAD, "keyframes"),
    "trajectory": (UPLOAD, "trajectory"), "start_from": (UPLOAD, "start_from"),
}
SAMPLERS = ("ddim", "dpmpp")


class Stopped(Exception):
    """The server is stopping: the running job ends at its next denoising step."""


class RequestError(ValueError):
    """A request the server refuses: one line for the client, with its HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------------------------------- cache
class ResultCache:
    """Job folders `<root>/<job id>/` holding result files, at most `max_jobs` of them and `max_bytes` in all."""

    def __init__(self, root, *, max_jobs: int = DEFAULT_CACHE_JOBS, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_jobs, self.max_bytes = max_jobs, max_bytes

    def folder(self, job_id: str) -> Path:
        if not JOB_ID.match(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / job_id

    def file(self, job_id: str, name: str) -> Optional[Path]:
        """The result file `name` of job `job_id`, or None (unknown, removed, or not a plain name in its folder)."""
        if not (JOB_ID.match(job_id) and FILE_NAME.match(name)):
            return None
        folder = self.folder(job_id).resolve()
        path = (folder / name).resolve()
        return path if path.parent == folder and path.is_file() else None

    def jobs(self) -> list[Path]:
        """Job folders, oldest first (by their last write)."""
        folders = [p for p in self.root.iterdir() if p.is_dir() and JOB_ID.match(p.name)]
        return sorted(folders, key=lambda p: p.stat().st_mtime)

    def prune(self, keep: frozenset = frozenset()) -> list[str]:
        """Remove the oldest job folders (never those in `keep`) until both bounds hold; returns their ids."""
        folders = self.jobs()
        sizes = {p: sum(f.stat().st_size for f in p.iterdir() if f.is_file()) for p in folders}
        total, removed = sum(sizes.values()), []
        for p in folders:
            if len(folders) - len(removed) <= self.max_jobs and total <= self.max_bytes:
                break
            if p.name in keep:
                continue
            shutil.rmtree(p, ignore_errors=True)
            total -= sizes[p]
            removed.append(p.name)
        return removed


# ------------------------------------------------------------------------------------------------ jobs
@dataclass
class Job:
    id: str
    args: object                       # the `generate` argument namespace
    plan: object                       # cli.motion_io.GeneratePlan
    steps: int
    state: str = "queued"              # queued | running | done | error | removed
    progress: float = 0.0              # denoising steps done / all, 0..1
    stage: str = "waiting"
    error: Optional[str] = None
    samples: list = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)


class GenerationService:
    """One pipeline, one worker thread, a FIFO of jobs and the cache their results go to."""

    def __init__(self, pipe, cache: ResultCache, *, max_samples: int = DEFAULT_MAX_SAMPLES,
                 max_queue: int = DEFAULT_MAX_QUEUE):
        self.pipe, self.cache = pipe, cache
        self.max_samples, self.max_queue = max_samples, max_queue
        self.jobs: dict[str, Job] = {}
        self.waiting: collections.deque[Job] = collections.deque()
        self.running: Optional[Job] = None
        self.lock = threading.Condition()
        self.stopping = False
        self.cache.prune()
        self.worker = threading.Thread(target=self._work, name="intermamba-generate", daemon=True)
        self.worker.start()

    def info(self) -> dict:
        config = self.pipe.config
        return {"model": self.pipe.source, "max_frames": self.pipe.max_frames, "fps": FPS,
                "default_steps": config.diffusion.sample_steps, "max_steps": self.pipe.diffusion.num_timesteps,
                "default_guidance": config.diffusion.guidance, "max_samples": self.max_samples,
                "samplers": list(SAMPLERS), "fields": list(FIELDS)}

    # --------------------------------------------------------------------------------------- requests
    def submit(self, body) -> Job:
        """Check a request the way `generate` checks its flags and queue it; RequestError if refused."""
        from ..cli.errors import CLIError
        from ..cli.motion_io import check_plan, plan_generate

        with tempfile.TemporaryDirectory(prefix="intermamba-upload-") as uploads:
            args, names = _request_args(body, Path(uploads))
            try:
                plan = plan_generate(args, timeline_files=False)
                steps = check_plan(self.pipe, plan, args)
            except CLIError as err:
                message = str(err)
                for path, name in names.items():       # the client's file name, not our temporary path
                    message = message.replace(path, name)
                raise RequestError(message) from None
        if len(plan.jobs) > self.max_samples:
            raise RequestError(f"{len(plan.jobs)} samples requested; this server makes at most {self.max_samples} "
                               "per request (intermamba serve --max-samples)")
        job = Job(uuid.uuid4().hex, args, plan, steps)
        with self.lock:
            if self.stopping:
                raise RequestError("the server is stopping; try again when it is back", status=503)
            if len(self.waiting) >= self.max_queue:
                raise RequestError(f"the queue is full ({len(self.waiting)} requests waiting); try again later",
                                   status=503)
            self.jobs[job.id] = job
            self.waiting.append(job)
            self.lock.notify_all()
        return job

    def status(self, job: Job) -> dict:
        """What a client sees of a job: state, queue position (1 = next), progress, and the results when done."""
        with self.lock:
            position = next((i for i, j in enumerate(self.waiting, 1) if j is job), 0)
        out = {"id": job.id, "state": job.state, "position": position, "progress": round(job.progress, 3),
               "stage": job.stage}
        if job.error is not None:
            out["error"] = job.error
        if job.state == "done":
            out["samples"] = job.samples
        return out

    def stop(self, wait: float = 0.0) -> None:
        """Refuse new work, end the running job at its next step, and wait up to `wait` s for the worker."""
        with self.lock:
            self.stopping = True
            self.lock.notify_all()
        self.worker.join(wait)

    # ----------------------------------------------------------------------------------------- worker
    def _work(self) -> None:
        while True:
            with self.lock:
                while not self.waiting and not self.stopping:
                    self.lock.wait()
                if self.stopping:
                    return
                job = self.running = self.waiting.popleft()
                job.state, job.stage = "running", "denoising"
            try:
                self._run(job)
                job.state = "done"
            except Exception as err:                    # one line for the client; the traceback for the log
                from ..cli.errors import CLIError

                if isinstance(err, (CLIError, Stopped)):
                    job.error = str(err) or "the server stopped before this job finished"
                else:
                    traceback.print_exc(file=sys.stderr)
                    job.error = f"internal error: {err.__class__.__name__}: {err}"
                job.state = "error"
                shutil.rmtree(self.cache.folder(job.id), ignore_errors=True)
            finally:
                job.stage = ""
                with self.lock:
                    self.running = None
                    keep = frozenset([job.id] + [j.id for j in self.waiting])
                for removed in self.cache.prune(keep):
                    gone = self.jobs.pop(removed, None)
                    if gone is not None:
                        gone.state, gone.samples = "removed", []
                job.finished.set()

    def _run(self, job: Job) -> None:
        from ..cli.motion_io import write_plan

        def progress(done: int, total: int) -> None:
            if self.stopping:
                raise Stopped()
            job.progress = done / total
            if done == total:
                job.stage = "writing files"

        folder = self.cache.folder(job.id)
        write_plan(self.pipe, job.plan, job.args, job.steps, folder, progress=progress)
        job.samples = [self._sample(job, k, stem) for k, (*_, stem) in enumerate(job.plan.jobs)]

    def _sample(self, job: Job, index: int, stem: str) -> dict:
        """A sample's record (its written json: text, seed, frames, ...) with the URLs of its files."""
        record = json.loads((self.cache.folder(job.id) / f"{stem}.json").read_text())
        url = f"/api/results/{job.id}/"
        files = {name: url + name for name in output_files(stem, job.plan.formats)}
        return {"text": record["text"], "seed": record["seed"], "frames": record["frames"], "fps": record["fps"],
                "files": files, "video": url + f"{stem}.mp4", "joints": f"/api/jobs/{job.id}/samples/{index}/joints"}

    def joints(self, job: Job, index: int) -> Optional[dict]:
        """A done job's sample `index` as {fps, parents, joints (2, T, 22, 3) in metres} for the 3D view."""
        if job.state != "done" or not 0 <= index < len(job.plan.jobs):
            return None
        path = self.cache.file(job.id, f"{job.plan.jobs[index][3]}_joints.npy")
        if path is None:
            return None
        joints = np.load(path, allow_pickle=False)
        return {"fps": job.samples[index]["fps"], "parents": list(PARENTS),
                "joints": np.round(joints.astype(np.float64), 4).tolist()}


def _request_args(body, uploads: Path):
    """A request's JSON as the `generate` argument namespace (the CLI's defaults for what it leaves out), its
    uploads written under `uploads`; returns (args, {temporary path: client's file name})."""
    from ..cli import build_parser

    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object of fields, e.g. {\"text\": \"two people hug\"}")
    args = build_parser().parse_args(["generate"])
    args.formats, args.threads = WEB_FORMATS, None
    names = {}
    for key, value in body.items():
        if key not in FIELDS:
            raise RequestError(f"unknown field {key!r}; known fields: {', '.join(FIELDS)}", status=422)
        kind, dest = FIELDS[key]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            what = {str: "a string", int: "an integer", UPLOAD: "a file {\"name\": ..., \"data\": <base64>}"}
            raise RequestError(f"{key} must be {what.get(kind, 'a number')}, got {json.dumps(value)[:60]}",
                               status=422)
        if key == "sampler" and value not in SAMPLERS:
            raise RequestError(f"sampler must be one of {', '.join(SAMPLERS)}, got {value!r}", status=422)
        if kind is UPLOAD:
            path = _write_upload(key, value, uploads)
            names[str(path)] = value["name"]
            value = str(path)
        setattr(args, dest, [value] if dest == "texts" else value)
    return args, names


def _write_upload(key: str, upload: dict, folder: Path) -> Path:
    name, data = upload.get("name"), upload.get("data")
    if not isinstance(name, str) or not isinstance(data, str) or set(upload) - {"name", "data"}:
        raise RequestError(f"{key} must be a file {{\"name\": ..., \"data\": <base64>}}", status=422)
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{key} {name}: 'data' is not base64", status=422) from None
    path = folder / f"{key}{Path(name).suffix.lower()}"       # the suffix tells .bvh from .npy, as on the CLI
    path.write_bytes(content)
    return path


# ------------------------------------------------------------------------------------------------ app
def create_app(service: GenerationService):
    app = FastAPI(title="intermamba", docs_url=None, redoc_url=None, openapi_url=None)

    def refuse(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def known(job_id: str) -> Optional[Job]:
        return service.jobs.get(job_id) if JOB_ID.match(job_id) else None

    async def submit(request: Request):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise RequestError(f"the request is larger than {MAX_BODY_BYTES >> 20} MB", status=413)
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as err:
            raise RequestError(f"the request body is not JSON ({err})") from None
        return await run_in_threadpool(service.submit, body)

    @app.exception_handler(RequestError)
    async def request_error(request, err: RequestError):
        return refuse(str(err), err.status)

    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{name}")
    def static(name: str):
        path = STATIC / name
        if not FILE_NAME.match(name) or not path.is_file():
            return refuse(f"no static file {name!r}", 404)
        return FileResponse(path)

    @app.get("/api/info")
    def info():
        return service.info()

    @app.post("/api/jobs", status_code=202)
    async def queue_job(request: Request):
        return service.status(await submit(request))

    @app.post("/api/generate")
    async def generate(request: Request):
        job = await submit(request)
        while not job.finished.is_set():          # polled, not waited on in a thread: Ctrl-C ends the wait
            if service.stopping:
                return refuse("the server is stopping; this request's job did not finish", 503)
            await asyncio.sleep(0.05)
        status = service.status(job)
        return refuse(status["error"], 400) if job.state == "error" else status

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str):
        job = known(job_id)
        return service.status(job) if job else refuse(f"no job {job_id!r} (unknown, or removed from the cache)", 404)

    @app.get("/api/jobs/{job_id}/samples/{index}/joints")
    def joints(job_id: str, index: int):
        job = known(job_id)
        data = None if job is None else service.joints(job, index)
        return data if data is not None else refuse(f"no sample {index} of a finished job {job_id!r}", 404)

    @app.get("/api/results/{job_id}/{name}")
    def result(job_id: str, name: str):
        path = service.cache.file(job_id, name)
        if path is None:
            return refuse(f"no result file {name!r} of job {job_id!r}", 404)
        inline = path.suffix in (".mp4", ".json")
        return FileResponse(path, filename=None if inline else name)

    return app


# ---------------------------------------------------------------------------------------------- server
def build_server(app, host: str, port: int, *, announce: bool = True, on_exit=None):
    """A uvicorn server bound to `host` only; it prints its URL once it listens (port 0: a free port) and calls
    `on_exit()` on Ctrl-C / SIGTERM (GenerationService.stop: requests waiting for a job are answered 503)."""
    import uvicorn

    class Server(uvicorn.Server):
        url: Optional[str] = None

        def handle_exit(self, sig, frame):
            if on_exit is not None:
                on_exit()
            super().handle_exit(sig, frame)

        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started:
                bound_host, bound_port = self.servers[0].sockets[0].getsockname()[:2]
                self.url = f"http://{bound_host}:{bound_port}/"
                if announce:
                    print(f"serving on {self.url} (Ctrl-C stops)", flush=True)

    # on Ctrl-C, open requests (a download) get a few seconds, then the server stops
    return Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                 timeout_graceful_shutdown=SHUTDOWN_SECONDS))


def start_in_thread(app, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0):
    """Run a server in a background thread (tests, notebooks); returns it once it listens (server.url)."""
    server = build_server(app, host, port, announce=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.02)
    server.thread = thread
    return server
