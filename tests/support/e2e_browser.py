"""A minimal Chrome DevTools Protocol client over a websocket, for driving headless Debian Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from websockets.sync.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
# Flags that keep a headless run hermetic: no sandbox (CI runs as root), no GPU, no calls home.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


class Page:
    """One browser tab: navigate, wait for text, read the DOM, capture screenshots."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.next_id = 0

    def call(self, method: str, timeout: float = 30.0, **params) -> dict:
        """Send one command and return its result; events arriving meanwhile are skipped."""
        self.next_id += 1
        message_id = self.next_id
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") != message_id:
                continue
            if "error" in reply:
                raise RuntimeError(f"{method} failed: {reply['error']}")
            return reply.get("result", {})

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def text(self) -> str:
        """The visible text of the page (what a person can read), after the app has rendered."""
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for_text(self, needles: list[str], timeout: float = 60.0) -> str:
        """Poll until every needle is in the page text; the text on success, an error naming the missing."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if all(needle in text for needle in needles):
                return text
            time.sleep(0.5)
        missing = [needle for needle in needles if needle not in text]
        raise AssertionError(f"page never showed {missing}; it showed:\n{text[:3000]}")

    def wait_for_pattern(self, pattern: str, timeout: float = 60.0) -> str:
        """Poll until the page text matches the regular expression `pattern`; the text on success."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if re.search(pattern, text):
                return text
            time.sleep(0.5)
        raise AssertionError(f"page never matched {pattern!r}; it showed:\n{text[:3000]}")

    def wait_for_absent(self, needle: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while needle in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"page still shows {needle!r}")
            time.sleep(0.25)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until no CSS animation or transition is running (dialogs fade in), so a screenshot is final."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline and quiet < 2:
            running = self.evaluate("document.getAnimations().filter(a => a.playState === 'running').length")
            quiet = quiet + 1 if not running else 0
            time.sleep(0.25)

    def scroll_to_top(self) -> None:
        """Scroll the window and every scrolled container (a tall dialog's overlay) back to the top."""
        self.evaluate(
            "window.scrollTo(0, 0);"
            "document.querySelectorAll('*').forEach(n => { if (n.scrollTop > 0) n.scrollTop = 0; });"
        )

    def click_text(self, label: str) -> bool:
        """Click the first button or link whose own text is exactly `label`; False if there is none."""
        script = f"""(() => {{
            const nodes = [...document.querySelectorAll('button, a, [role=button], [role=tab]')];
            const hit = nodes.find(n => n.innerText && n.innerText.trim() === {json.dumps(label)});
            if (!hit) return false;
            hit.click(); return true;
        }})()"""
        return bool(self.evaluate(script))

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def _json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@contextmanager
def chromium_page(port: int, width: int = 1600, height: int = 1000) -> Iterator[Page]:
    """Start headless Chromium with a debugging port and yield its first tab; always stops the browser."""
    profile = tempfile.mkdtemp(prefix="e2e-chromium-")
    command = [
        CHROMIUM,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        f"--remote-debugging-port={port}",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        targets = _wait_for_targets(port, process)
        page_target = next(t for t in targets if t.get("type") == "page")
        with connect(page_target["webSocketDebuggerUrl"], max_size=None, open_timeout=20) as socket:
            page = Page(socket)
            page.call("Page.enable")
            page.call("Runtime.enable")
            page.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _wait_for_targets(port: int, process: subprocess.Popen, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited: {process.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            targets = _json(f"http://127.0.0.1:{port}/json/list")
            if any(t.get("type") == "page" for t in targets):
                return targets
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("chromium did not open its debugging port")
