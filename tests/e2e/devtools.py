"""Headless Chromium driven over the DevTools protocol, for the browser tests.

`Chromium` runs one offline browser (every host name but 127.0.0.1 fails to resolve) and talks
to it over one WebSocket; `Chromium.open` loads a URL in a new tab and waits until a JavaScript
expression is true. The returned `Page` records everything the console shows a developer:
console API calls, uncaught exceptions and the browser's own messages (Content-Security-Policy
violations, failed loads), each with its level, so a test can refuse any error. It also
evaluates expressions in the page and takes full-page screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

STARTUP_SECONDS = 20.0
CALL_SECONDS = 30.0
VIEWPORT = (1280, 900)
# A tall page is cut here: enough to see the header and the first operations.
MAX_SCREENSHOT_HEIGHT = 6000

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-proxy-server",
    # No internet: every host name but the loopback server's fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


@dataclass(frozen=True, slots=True)
class ConsoleEntry:
    """One message of the page's console.

    Attributes:
        level: ``error``, ``warning``, ``info``, ``log``, ``debug`` or ``verbose``.
        source: ``console-api`` (the page called ``console.*``), ``exception`` (uncaught) or
            the browser's own source (``security`` for CSP violations, ``network``, ...).
        text: The message.
        url: The script or resource it is about, when known.
    """

    level: str
    source: str
    text: str
    url: str


class DevToolsError(Exception):
    """The browser refused a command, or did not answer in time."""


class _Connection:
    """One WebSocket to the browser: commands with replies, events kept in arrival order."""

    def __init__(self, url: str) -> None:
        self._stack = ExitStack()
        # NOTE: as a context manager: the form every supported websockets version accepts.
        self._socket: ClientConnection = self._stack.enter_context(
            connect(url, max_size=None, open_timeout=CALL_SECONDS)
        )
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        deadline = time.monotonic() + CALL_SECONDS
        while True:
            reply = self._receive(deadline - time.monotonic())
            if reply is None:
                raise DevToolsError(f"{method}: no answer within {CALL_SECONDS} s")
            if reply.get("id") == number:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def pump(self, seconds: float) -> None:
        """Collect the events that arrive within `seconds`."""
        deadline = time.monotonic() + seconds
        while self._receive(deadline - time.monotonic()) is not None:
            pass

    def _receive(self, seconds: float) -> dict[str, Any] | None:
        if seconds <= 0:
            return None
        try:
            raw = self._socket.recv(timeout=seconds)
        except TimeoutError:
            return None
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def close(self) -> None:
        self._stack.close()


class Page:
    """A loaded tab: its console so far, expressions evaluated in it, screenshots."""

    def __init__(self, connection: _Connection, target: str, session: str, url: str) -> None:
        self._connection = connection
        self._target = target
        self._session = session
        self.url = url

    @property
    def console(self) -> list[ConsoleEntry]:
        """Every console message of this tab, in order."""
        entries = []
        for event in self._connection.events:
            if event.get("sessionId") == self._session:
                entry = _console_entry(event["method"], event.get("params", {}))
                if entry is not None:
                    entries.append(entry)
        return entries

    def responses(self) -> list[tuple[str, int]]:
        """Every HTTP response this tab received so far, as (URL, status), in order."""
        return [
            (str(event["params"]["response"]["url"]), int(event["params"]["response"]["status"]))
            for event in self._connection.events
            if event.get("sessionId") == self._session
            and event.get("method") == "Network.responseReceived"
        ]

    def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression` evaluated in the page (promises awaited)."""
        result = self._call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float) -> bool:
        """Whether `expression` became truthy within `seconds` (polled every 100 ms)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            self._connection.pump(0.1)
        return bool(self.evaluate(expression))

    def settle(self, seconds: float) -> None:
        """Let the page run `seconds` longer, collecting what its console says."""
        self._connection.pump(seconds)

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page (cut at `MAX_SCREENSHOT_HEIGHT`) to `path`."""
        metrics = self._call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": max(VIEWPORT[0], size["width"]),
            "height": min(max(VIEWPORT[1], size["height"]), MAX_SCREENSHOT_HEIGHT),
            "scale": 1,
        }
        shot = self._call(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        self._connection.call("Target.closeTarget", {"targetId": self._target})

    def _call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._connection.call(method, params, self._session)


class Chromium:
    """One headless browser process with its own profile, closed by `close`."""

    def __init__(self, binary: str, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        # A previous run's file would point at a port nobody listens on.
        (profile / "DevToolsActivePort").unlink(missing_ok=True)
        self._log = (profile / "chromium.log").open("wb")
        self._process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._connection = _Connection(self._endpoint(profile))
        except BaseException:
            self.close()
            raise

    def _endpoint(self, profile: Path) -> str:
        """The browser's WebSocket URL, from the file Chromium writes once it listens."""
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DevToolsError(f"chromium exited with {self._process.returncode}")
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) == 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise DevToolsError(f"chromium did not listen within {STARTUP_SECONDS} s")

    def open(self, url: str, *, ready: str, seconds: float = 20.0) -> Page:
        """Load `url` in a new tab and wait up to `seconds` for the `ready` expression.

        The console is recorded from before the navigation starts. A page that never becomes
        ready is returned all the same: the test's assertions say what is missing.
        """
        connection = self._connection
        target = connection.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = connection.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(connection, target, session, url)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page._call(f"{domain}.enable")
        width, height = VIEWPORT
        page._call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        page._call("Page.navigate", {"url": url})
        page.wait_for(ready, seconds)
        return page

    def close(self) -> None:
        connection = getattr(self, "_connection", None)
        if connection is not None:
            connection.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


def _console_entry(method: str, params: dict[str, Any]) -> ConsoleEntry | None:
    if method == "Runtime.consoleAPICalled":
        kind = str(params.get("type", "log"))
        level = {"assert": "error", "warning": "warning", "error": "error"}.get(kind, kind)
        text = " ".join(_argument_text(arg) for arg in params.get("args", []))
        frames = (params.get("stackTrace") or {}).get("callFrames") or [{}]
        return ConsoleEntry(level, "console-api", text, str(frames[0].get("url", "")))
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        text = (details.get("exception") or {}).get("description") or details.get("text", "")
        return ConsoleEntry("error", "exception", str(text), str(details.get("url", "")))
    if method == "Log.entryAdded":
        entry = params.get("entry", {})
        return ConsoleEntry(
            str(entry.get("level", "")),
            str(entry.get("source", "")),
            str(entry.get("text", "")),
            str(entry.get("url", "")),
        )
    return None


def _argument_text(argument: dict[str, Any]) -> str:
    if "value" in argument:
        value = argument["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(argument.get("description", argument.get("type", "")))
