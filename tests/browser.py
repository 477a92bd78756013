"""Open an HTML file in a real headless Chromium and see what a reader would see.

`render(path)` loads the page and returns its visible text (`document.body.innerText`
after the load event, so after the page's scripts ran) and every error the page caused up
to then: uncaught exceptions, `console.error` / `console.assert` calls, and the errors
Chromium itself logs to the page's console, such as a resource that failed to load (a
missing image, stylesheet or script, an unreachable URL). Errors thrown later, by a timer
or an event handler, are not waited for.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: the
browser reads commands on fd 3 and writes replies and events on fd 4, each a JSON message
ended by a NUL byte), so no port, no websocket library and no extra Python package. The
log Chromium prints with `--enable-logging=stderr` is not enough: console messages appear
there at one level (a `console.log` looks like a `console.error`) and failed resource loads
not at all.

Chromium comes from Debian's `chromium` package (`.ci/run` installs it). Without it a test
is skipped locally, but fails under CI, so CI can never pass by skipping.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TIMEOUT_SECONDS = 60.0

FLAGS = [
    "--headless",
    "--no-sandbox",  # root in containers; the page is our own file
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-pipe",
    "--enable-logging=stderr",
    "--v=0",
]

# Runs in the child: puts the two pipe ends on fd 3 and 4, where Chromium expects them.
_ON_FD_3_AND_4 = (
    "import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); "
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


@dataclass
class RenderedPage:
    text: str
    console_errors: list[str] = field(default_factory=list)


def _missing(what: str) -> None:
    message = f"{what} not installed (Debian package; `.ci/run` installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def chromium_binary() -> str:
    binary = shutil.which("chromium")
    if binary is None:
        _missing("Chromium")
    return binary


def render(html_path: Path | str, timeout: float = TIMEOUT_SECONDS) -> RenderedPage:
    """Load `html_path` in headless Chromium; its visible text and the errors it raised."""
    url = Path(html_path).resolve().as_uri()
    binary = chromium_binary()
    profile = Path(tempfile.mkdtemp(prefix="retain-chromium-"))
    # Above fd 9, so putting them on 3 and 4 in the child cannot overwrite one another.
    to_browser_r, to_browser_w = (_high(fd) for fd in os.pipe())
    from_browser_r, from_browser_w = (_high(fd) for fd in os.pipe())
    stderr = (profile / "stderr.log").open("wb")
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _ON_FD_3_AND_4, str(to_browser_r), str(from_browser_w)]
            + [binary, *FLAGS, f"--user-data-dir={profile / 'profile'}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            pass_fds=(to_browser_r, from_browser_w),
            start_new_session=True,  # its helpers are killed with it on a timeout
        )
    except BaseException:
        os.close(to_browser_w)
        os.close(from_browser_r)
        stderr.close()
        shutil.rmtree(profile, ignore_errors=True)
        raise
    finally:
        os.close(to_browser_r)
        os.close(from_browser_w)
    session = _DevTools(process, to_browser_w, from_browser_r, time.monotonic() + timeout)
    try:
        return session.render(url)
    except (TimeoutError, ConnectionError) as failure:
        stderr.flush()
        log = (profile / "stderr.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"Chromium could not render {url}: {failure}\n{log}") from failure
    finally:
        session.close()
        stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


def _high(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class _DevTools:
    """One DevTools protocol connection over the pipe, for one page."""

    def __init__(self, process: subprocess.Popen, write_fd: int, read_fd: int, deadline: float):
        self.process, self.write_fd, self.read_fd = process, write_fd, read_fd
        self.deadline = deadline
        self.buffer = b""
        self.next_id = 0
        self.session_id: str | None = None
        self.errors: list[str] = []
        self.loaded = False

    def render(self, url: str) -> RenderedPage:
        targets = self.call("Target.getTargets")["targetInfos"]
        pages = [t["targetId"] for t in targets if t["type"] == "page"]
        if pages:
            target = pages[0]
        else:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session_id = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")
        navigation = self.call("Page.navigate", url=url)
        if navigation.get("errorText"):
            self.errors.append(f"navigation to {url} failed: {navigation['errorText']}")
        while not self.loaded:
            self._handle(self._receive())
        text = self.call(
            "Runtime.evaluate",
            expression="document.body ? document.body.innerText : ''",
            returnByValue=True,
        )["result"].get("value", "")
        return RenderedPage(text=text, console_errors=list(self.errors))

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session_id is not None:
            message["sessionId"] = self.session_id
        payload = json.dumps(message).encode() + b"\0"
        while payload:
            payload = payload[os.write(self.write_fd, payload) :]
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise ConnectionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._handle(reply)

    def _receive(self) -> dict:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium before the timeout")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if ready:
                chunk = os.read(self.read_fd, 1 << 16)
                if not chunk:
                    raise ConnectionError(f"Chromium exited (code {self.process.poll()})")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def _handle(self, event: dict) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details["text"]
            self.errors.append(f"uncaught exception: {description.splitlines()[0]}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            words = [_console_value(arg) for arg in params.get("args", [])]
            self.errors.append(f"console.{params['type']}: {' '.join(words)}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            # Chromium's own errors, e.g. source "network": "Failed to load resource: ..."
            entry = params["entry"]
            where = f" ({entry['url']})" if entry.get("url") else ""
            self.errors.append(f"{entry['source']}: {entry['text']}{where}")

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.session_id = None
                self.deadline = time.monotonic() + 5
                self.call("Browser.close")
        except (OSError, TimeoutError, ConnectionError):
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(5)
        os.close(self.write_fd)
        os.close(self.read_fd)


def _console_value(arg: dict) -> str:
    if "value" in arg:
        return str(arg["value"])
    return arg.get("description") or arg.get("unserializableValue") or arg.get("type", "?")
