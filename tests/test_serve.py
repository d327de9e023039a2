"""`intermamba serve`: the JSON API (queue, messages, cache bound, file access) and the page in a real browser."""

import io
import json
import shutil
import struct
import threading
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install 'intermamba[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from intermamba.cli import build_parser, main  # noqa: E402
from intermamba.data.bvh import read_bvh_pair  # noqa: E402
from intermamba.pipeline import InterMambaPipeline  # noqa: E402
from intermamba.serve.app import GenerationService, ResultCache, create_app, start_in_thread  # noqa: E402

FRAMES, STEPS = 30, 2
REQUEST = {"text": "two people shake hands", "frames": FRAMES, "steps": STEPS}


@pytest.fixture(scope="module")
def pipe():
    return InterMambaPipeline.from_pretrained()             # the shipped demo model, on the CPU


class GatedService(GenerationService):
    """Jobs wait at a gate before running, so that a test can fill the queue and look at it."""

    def __init__(self, *args, **kwargs):
        self.gate = threading.Event()
        self.order = []
        super().__init__(*args, **kwargs)

    def _run(self, job):
        self.gate.wait(60)
        self.order.append(job.id)
        super()._run(job)


def make_client(pipe, tmp_path, service_class=GenerationService, **cache):
    service = service_class(pipe, ResultCache(tmp_path / "cache", **cache))
    return TestClient(create_app(service)), service


def wait_done(client, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


# ---------------------------------------------------------------------------------------------- the API
def test_generate_returns_the_files_of_each_sample(pipe, tmp_path):
    client, _ = make_client(pipe, tmp_path)
    r = client.post("/api/generate", json={**REQUEST, "num_samples": 2, "seed": 5, "placement_guidance": 2})
    assert r.status_code == 200, r.text
    samples = r.json()["samples"]
    assert [s["seed"] for s in samples] == [5, 6] and all(s["frames"] == FRAMES for s in samples)
    files = samples[0]["files"]
    assert sorted(name.rsplit(".", 1)[1] for name in files) == ["bvh", "bvh", "glb", "json", "mp4", "npy", "npy"]
    joints = np.load(io.BytesIO(client.get(files["two_people_shake_hands_seed5_joints.npy"]).content))
    assert joints.shape == (2, FRAMES, 22, 3)
    record = client.get(files["two_people_shake_hands_seed5.json"]).json()
    assert record["steps"] == STEPS and record["seed"] == 5       # the CLI's own record (export.write_sample)
    assert record["placement_guidance"] == 2 and record["cleaned_up"] is True
    view = client.get(samples[0]["joints"]).json()
    np.testing.assert_allclose(np.array(view["joints"]), joints, atol=1e-4)
    assert len(view["parents"]) == 22 and view["fps"] == 30


@pytest.mark.parametrize("body, status, message", [
    ({"text": "", "frames": FRAMES}, 400, "a prompt is empty; describe the interaction"),
    ({"text": "hug", "frames": 5000}, 400, "5000 frames is longer than this model supports (3000 frames"),
    ({"text": "hug", "frames": 0}, 400, "--frames must be positive, got 0"),
    ({"text": "hug", "steps": 5000}, 400, "--steps 5000 is more than this model's 1000 diffusion timesteps"),
    ('{"text": "hug", "guidance": Infinity}', 400, "--guidance must be a finite number"),
    ('{"text": "hug",', 400, "the request body is not JSON"),
    ({"text": "hug", "num_samples": 5}, 400, "5 samples requested; this server makes at most 4 per request"),
    ({"text": "hug", "colour": "red"}, 422, "unknown field 'colour'; known fields: text, frames"),
    ({"text": "hug", "frames": "30"}, 422, "frames must be an integer, got \"30\""),
    ({"text": "hug", "sampler": "euler"}, 422, "sampler must be one of ddim, dpmpp, got 'euler'"),
    ({"timeline": "hug@0-1", "text": "hug"}, 400, "--timeline holds the prompts; give no TEXT"),
    ({"text": "hug", "partner": {"name": "me.npy", "data": "AAAA"}}, 400, "me.npy: not a plain numeric .npy array"),
    (["hug"], 400, "the request body must be a JSON object of fields"),
])
def test_bad_requests_get_the_clis_one_line_message(pipe, tmp_path, body, status, message):
    client, _ = make_client(pipe, tmp_path)
    for route in ("/api/generate", "/api/jobs"):
        r = client.post(route, content=body) if isinstance(body, str) else client.post(route, json=body)
        assert r.status_code == status and r.json()["error"].startswith(message), r.text
        assert "\n" not in r.json()["error"] and "/tmp" not in r.json()["error"]


def test_a_timeline_is_text_never_a_file_on_the_server(pipe, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("hug@0-1; part@1-2")         # a valid timeline file: the CLI would read it, the server not
    client, _ = make_client(pipe, tmp_path)
    r = client.post("/api/jobs", json={"timeline": str(secret)})
    assert r.status_code == 400 and "write 'text@START-END'" in r.json()["error"]


def test_a_timeline_is_one_motion_with_progress(pipe, tmp_path):
    client, _ = make_client(pipe, tmp_path)
    r = client.post("/api/generate", json={"timeline": "two people hug@0-0.5; they part@0.5-1", "steps": STEPS})
    assert r.status_code == 200, r.text
    status = r.json()
    assert status["progress"] == 1.0 and [s["frames"] for s in status["samples"]] == [FRAMES]
    record = client.get(status["samples"][0]["files"]["two_people_hug_they_part_seed0.json"]).json()
    assert [segment["frames"] for segment in record["timeline"]] == [15, 15]


def test_an_uploaded_partner_is_kept(pipe, tmp_path):
    client, _ = make_client(pipe, tmp_path)
    first = client.post("/api/generate", json=REQUEST).json()["samples"][0]
    pair = client.get(first["files"]["two_people_shake_hands_seed0_joints.npy"]).content
    import base64

    upload = {"name": "pair.npy", "data": base64.b64encode(pair).decode()}
    r = client.post("/api/generate", json={"text": "they react", "steps": STEPS, "partner": upload,
                                           "partner_index": 0})
    assert r.status_code == 200, r.text
    sample = r.json()["samples"][0]
    assert sample["frames"] == FRAMES - 1             # a reaction is as long as the partner's motion, less one
    joints = np.load(io.BytesIO(client.get(sample["files"]["they_react_seed0_joints.npy"]).content))
    np.testing.assert_allclose(joints[0], np.load(io.BytesIO(pair))[0, :FRAMES - 1], atol=0.02)


def test_one_job_runs_at_a_time_in_order_and_the_queue_shows_positions(pipe, tmp_path):
    client, service = make_client(pipe, tmp_path, GatedService)
    ids = [client.post("/api/jobs", json={**REQUEST, "seed": k}).json()["id"] for k in range(3)]
    time.sleep(0.2)                                   # the worker takes the first job and waits at the gate
    states = [client.get(f"/api/jobs/{i}").json() for i in ids]
    assert [(s["state"], s["position"]) for s in states] == [("running", 0), ("queued", 1), ("queued", 2)]
    assert client.get("/api/info").status_code == 200           # the server answers while a job runs
    service.gate.set()
    done = [wait_done(client, i) for i in ids]
    assert [d["state"] for d in done] == ["done"] * 3 and service.order == ids
    assert all(d["progress"] == 1.0 for d in done)


def test_a_full_queue_refuses_with_503(pipe, tmp_path):
    service = GatedService(pipe, ResultCache(tmp_path / "cache"), max_queue=1)
    client = TestClient(create_app(service))
    assert client.post("/api/jobs", json=REQUEST).status_code == 202
    time.sleep(0.2)                                   # running (at the gate)
    assert client.post("/api/jobs", json=REQUEST).status_code == 202           # waiting
    r = client.post("/api/jobs", json=REQUEST)
    assert r.status_code == 503 and r.json()["error"].startswith("the queue is full (1 requests waiting)")
    # End both jobs before the next test: a worker left running would share the module's pipeline with it
    service.stop()
    service.gate.set()
    service.worker.join(60)
    assert not service.worker.is_alive()


def test_the_cache_keeps_the_newest_jobs_only(pipe, tmp_path):
    client, service = make_client(pipe, tmp_path, max_jobs=2)
    ids = [client.post("/api/generate", json={**REQUEST, "seed": k}).json()["id"] for k in range(3)]
    assert sorted(p.name for p in service.cache.jobs()) == sorted(ids[1:])
    assert client.get(f"/api/jobs/{ids[0]}").status_code == 404
    url = f"/api/results/{ids[0]}/two_people_shake_hands_seed0.json"
    assert client.get(url).status_code == 404
    assert client.get(f"/api/results/{ids[2]}/two_people_shake_hands_seed2.json").status_code == 200


def test_the_cache_size_bound_removes_the_oldest_folders(tmp_path):
    cache = ResultCache(tmp_path, max_jobs=10, max_bytes=2500)
    names = [f"{k:032x}" for k in range(4)]
    for age, name in enumerate(names):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.npy").write_bytes(b"0" * 1000)
        t = time.time() - 100 + age
        import os

        os.utime(tmp_path / name, (t, t))
    (tmp_path / "not-a-job").mkdir()                  # only job folders are ever removed
    assert cache.prune(keep=frozenset([names[0]])) == [names[1], names[2]]
    assert sorted(p.name for p in tmp_path.iterdir()) == [names[0], names[3], "not-a-job"]


def test_no_file_outside_a_job_folder_is_served(pipe, tmp_path):
    client, service = make_client(pipe, tmp_path)
    job = client.post("/api/generate", json=REQUEST).json()["id"]
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    (service.cache.folder(job) / "link.txt").symlink_to(secret)     # a link inside the folder to outside it
    for url in [f"/api/results/{job}/..%2F..%2Fsecret.txt", f"/api/results/{job}/%2E%2E%2Fsecret.txt",
                f"/api/results/{job}/..", f"/api/results/{job}/link.txt", f"/api/results/..%2F{job}/x",
                f"/api/results/{job}/.hidden", "/static/..%2F..%2Fapp.py", "/static/%2E%2E%2Fapp.py",
                f"/api/results/{job}%2F..%2F..%2Fsecret.txt/x"]:
        r = client.get(url)
        assert r.status_code == 404 and "private" not in r.text, url
    assert client.get(f"/api/results/{job}/two_people_shake_hands_seed0.json").status_code == 200


def test_the_server_listens_on_localhost_only_by_default(pipe, tmp_path):
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    server = start_in_thread(create_app(GenerationService(pipe, ResultCache(tmp_path))))
    try:
        sockets = [s for srv in server.servers for s in srv.sockets]
        assert [s.getsockname()[0] for s in sockets] == ["127.0.0.1"]
        with urllib.request.urlopen(server.url + "api/info") as r:
            assert json.load(r)["max_frames"] == 3000
    finally:
        server.should_exit = True
        server.thread.join(10)


def test_ctrl_c_stops_the_server_and_its_running_job(tmp_path):
    """The CLI prints its URL, and on Ctrl-C ends the running job at its next step and exits 0, leaving no files."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "intermamba.cli", "serve", "--port", "0", "--cache",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert lines[1].startswith("serving on http://127.0.0.1:"), lines
        url = lines[1].split()[2]
        body = json.dumps({"text": "two people hug", "frames": 900, "steps": 500}).encode()
        with urllib.request.urlopen(urllib.request.Request(url + "api/jobs", data=body)) as r:
            job = json.load(r)["id"]
        deadline = time.monotonic() + 60
        while json.load(urllib.request.urlopen(f"{url}api/jobs/{job}"))["progress"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and out.strip().endswith("stopped") and "Traceback" not in out, out
    assert list(tmp_path.iterdir()) == []             # the unfinished job's folder is gone


def test_serve_bad_flags_are_one_line(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    for argv, message in [(["--cache-jobs", "0"], "--cache-jobs must be a positive integer"),
                          (["--port", "70000"], "--port must be in 0..65535"),
                          (["--cache", str(tmp_path / "file")], "is a file, not a folder")]:
        assert main(["serve", *argv]) == 2
        assert message in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- the browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (CI installs it: README, Set up)")
def test_the_page_in_a_real_browser(pipe, tmp_path):
    """Type a prompt, generate, and check what a person would see: bodies in the 3D view, a playing video,
    files that load; then an empty prompt's message."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    server = start_in_thread(create_app(GenerationService(pipe, ResultCache(tmp_path / "cache"))))
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            page.goto(server.url)
            page.fill("#text", "two people shake hands")
            page.fill("#seconds", str(FRAMES / 30))
            page.fill("#steps", str(STEPS))
            page.click("#generate")
            page.wait_for_selector(".sample canvas", timeout=120_000)
            page.wait_for_function("document.querySelector('#status').textContent.startsWith('done')")

            # the 3D view: pixels of both people's colours (blue and red bodies) on the light background
            counts = page.evaluate("""() => {
                const c = document.querySelector('.sample canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let blue = 0, red = 0;
                for (let i = 0; i < d.length; i += 4) {
                    if (d[i + 2] > d[i] + 60 && d[i + 2] > d[i + 1] + 30) blue++;
                    if (d[i] > d[i + 2] + 60 && d[i] > d[i + 1] + 60) red++;
                }
                return [blue, red];
            }""")
            assert min(counts) > 200, counts
            # scrubbing moves the view
            before = page.evaluate("document.querySelector('.sample canvas').toDataURL()")
            page.click(".sample .play")                           # pause
            page.eval_on_selector(".sample input[type=range]",
                                  "(s) => { s.value = s.max; s.dispatchEvent(new Event('input')); }")
            assert page.evaluate("document.querySelector('.sample canvas').toDataURL()") != before

            # the video plays
            page.wait_for_function("document.querySelector('.sample video').readyState >= 2", timeout=30_000)
            page.wait_for_function("document.querySelector('.sample video').currentTime > 0.2", timeout=30_000)

            # every download link gives a valid file
            links = page.eval_on_selector_all(".downloads a", "(a) => a.map((x) => [x.textContent, x.href])")
            assert sorted(name.rsplit(".", 1)[1] for name, _ in links) == \
                ["bvh", "bvh", "glb", "json", "mp4", "npy", "npy"]
            for name, url in links:
                with urllib.request.urlopen(url) as r:
                    data = r.read()
                (tmp_path / name).write_bytes(data)
                if name.endswith("_joints.npy"):
                    assert np.load(tmp_path / name).shape == (2, FRAMES, 22, 3)
                elif name.endswith("_features.npy"):
                    assert np.load(tmp_path / name).shape == (FRAMES, 2, 262)
                elif name.endswith(".json"):
                    assert json.loads(data)["frames"] == FRAMES
                elif name.endswith(".glb"):
                    magic, version, length = struct.unpack("<4sII", data[:12])
                    chunk, kind = struct.unpack("<I4s", data[12:20])
                    assert (magic, version, length, kind) == (b"glTF", 2, len(data), b"JSON")
                    assert len(json.loads(data[20:20 + chunk])["animations"]) >= 1
                elif name.endswith(".mp4"):
                    assert data[4:8] == b"ftyp"
            p1, p2 = [tmp_path / n for n, _ in links if n.endswith((".bvh"))]
            assert read_bvh_pair(p1, p2).shape[:2] == (2, FRAMES)

            # a bad prompt shows its message on the page
            page.fill("#text", "")
            page.click("#generate")
            page.wait_for_selector("#status.error")
            assert page.text_content("#status").startswith("a prompt is empty")
            browser.close()
    finally:
        server.should_exit = True
        server.thread.join(10)
