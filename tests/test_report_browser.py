"""The HTML report in a real browser: Debian's headless Chromium, driven over the DevTools protocol.

The page must load with no script error, no failed load and no request leaving the machine, and
every image must decode to a non-zero size. A full-page screenshot is kept in tests/artifacts/.
Chromium is installed by `make setup` (Debian's `chromium` package); the test fails, not skips,
without it. Deselect with `-m "not browser"`.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from base64 import b64decode
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from report_speed import fake_workflow  # noqa: E402

from prunebench import paths, pipeline  # noqa: E402

pytestmark = pytest.mark.browser
ARTIFACTS = REPO / "tests" / "artifacts"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed: run `make setup` (installs Debian's chromium package) "
                "or deselect with -m 'not browser'")


class DevTools:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary: str, profile: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire():  # in the child: the pipe ends on fds 3 and 4, as Chromium expects
            fds = [os.dup(to_chrome_r), os.dup(from_chrome_w)]  # above 4 first, so dup2 cannot clobber
            os.dup2(fds[0], 3)
            os.dup2(fds[1], 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=False,
            preexec_fn=wire)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        reply = self._read_until(lambda m: m.get("id") == self._next_id, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        return self._read_until(lambda m: m.get("method") == method, timeout)

    def _read_until(self, done, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if done(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TimeoutError(f"Chromium did not answer in {timeout}s (exit code {self.proc.poll()})")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk

    def close(self) -> None:
        try:
            os.write(self._to_chrome, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def render(page: Path, profile: Path) -> dict:
    """Load `page` in headless Chromium; return its problems, image sizes and a full-page PNG screenshot."""
    browser = DevTools(chromium(), profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                            "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired", timeout=60)
        images = browser.send("Runtime.evaluate", {
            "expression": "JSON.stringify([...document.images].map(i => ({alt: i.alt, complete: i.complete, "
                          "width: i.naturalWidth, height: i.naturalHeight, shown: i.getBoundingClientRect().width})))",
            "returnByValue": True}, session=session)["result"]["value"]
        size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        height = min(int(size["height"]), 16_000)
        shot = browser.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": int(size["width"]), "height": height, "scale": 1}},
            session=session, timeout=60)
        time.sleep(0.2)  # let late console/log events arrive
        browser.send("Runtime.evaluate", {"expression": "1"}, session=session)
        events = browser.events
    finally:
        browser.close()
    problems = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            problems.append(f"script error: {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            problems.append(f"console error: {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            problems.append(f"log error: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.loadingFailed":
            problems.append(f"failed load: {params.get('errorText')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "about:")):
                problems.append(f"network request: {url}")
    return {"problems": problems, "images": json.loads(images), "screenshot": b64decode(shot["data"]),
            "height": size["height"]}


def test_report_renders_in_headless_chromium(tmp_path):
    kwargs = fake_workflow(tmp_path, methods=["random", "full", "cld", "forgetting", "el2n", "aum"],
                           fractions=[0.01, 0.1, 0.3], seeds=[0, 1], pool=3000, drop=0.15)
    pipeline.report(**kwargs)
    page = Path(kwargs["out_dir"]) / "index.html"
    tick = time.perf_counter()
    rendered = render(page, tmp_path / "chromium-profile")
    seconds = time.perf_counter() - tick
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report_screenshot.png").write_bytes(rendered["screenshot"])
    (ARTIFACTS / "report_browser.json").write_text(json.dumps(
        {"page": str(page), "seconds": round(seconds, 2), "problems": rendered["problems"],
         "images": rendered["images"], "page_height": rendered["height"]}, indent=1))

    assert rendered["problems"] == []
    images = rendered["images"]
    # 4 per arch (2 archs), class balance, overlap, mislabeled share (noise is on), transfer (resnet18
    # trains on small_cnn's subsets): every figure the report rule declares, each shown once
    assert len(images) == len(paths.figure_files(kwargs["config"])) == 2 * 4 + 4
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0 and image["shown"] > 0, image
    assert rendered["screenshot"].startswith(b"\x89PNG") and len(rendered["screenshot"]) > 50_000
    assert rendered["height"] > 3000  # the whole report, not an empty page
