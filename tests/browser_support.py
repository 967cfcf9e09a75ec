"""Shared set-up of the browser tests: the app under uvicorn on a free loopback port and
Debian's headless Chromium driven by Playwright (skips with the reason where either is missing).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LANTIAN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Playwright's 30-s default failed a page that answers in ~3 s alone when the machine ran two
# pytest workers beside other jobs (load 20): the waits are hang guards, not time limits.
WAIT_MS = 120_000


def _longer_waits(browser: Any) -> None:
    """Make every context of ``browser`` wait up to :data:`WAIT_MS` for pages and elements."""
    new_context = browser.new_context

    def patched(*args: Any, **kwargs: Any) -> Any:
        ctx = new_context(*args, **kwargs)
        ctx.set_default_timeout(WAIT_MS)
        ctx.set_default_navigation_timeout(WAIT_MS)
        return ctx

    browser.new_context = patched


@contextmanager
def served_with_browser(db_path: Path) -> Iterator[tuple[str, Any]]:
    """Serve ``create_app(db_path)`` and launch Chromium; yield ``(base_url, browser)``."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium; "
                    "`make test` installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    import uvicorn

    from lantian.api.app import create_app

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(db_path), host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            _longer_waits(browser)
            try:
                yield f"http://127.0.0.1:{port}", browser
            finally:
                browser.close()
    finally:
        srv.should_exit = True
        th.join(timeout=10)
