"""Make docs/images/serve.png: the `intermamba serve` page after one generation, through headless chromium.

    python scripts/serve_screenshot.py [--out docs/images/serve.png] [--chromium /usr/bin/chromium]

Needs the dev extra (playwright) and a system chromium; runs the shipped demo model on the CPU (about 15 s).
"""

import argparse
import shutil
import tempfile
import time

from playwright.sync_api import sync_playwright

from intermamba.pipeline import InterMambaPipeline
from intermamba.serve.app import GenerationService, ResultCache, create_app, start_in_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images/serve.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        service = GenerationService(InterMambaPipeline.from_pretrained(), ResultCache(cache))
        server = start_in_thread(create_app(service))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1260, "height": 600})
            page.goto(server.url)
            page.fill("#text", "two people shake hands")
            page.fill("#seconds", "4")
            page.fill("#steps", "20")
            page.click("#generate")
            page.wait_for_function("document.querySelector('#status').textContent.startsWith('done')",
                                   timeout=300_000)
            page.click(".sample .play")                                      # pause at 2 s, video too
            page.eval_on_selector(".sample input[type=range]",
                                  "(s) => { s.value = 60; s.dispatchEvent(new Event('input')); }")
            page.wait_for_function("document.querySelector('.sample video').readyState >= 2")
            page.eval_on_selector(".sample video", "(v) => { v.pause(); v.currentTime = 2.0; }")
            time.sleep(1.0)
            page.screenshot(path=args.out)
            browser.close()
        server.should_exit = True
        server.thread.join(10)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
