"""JupyterLab as a real server process and Debian's chromium driven by Playwright.

`lab`: `jupyter lab` on a free loopback port with fresh Jupyter directories, a notebook root of
its own and the LINKIS_* variables of the test's embedded gateway, so the Linkis kernels it starts
find the gateway with no configuration. `page`: a 1280x800 Chromium tab; when a test fails, a
screenshot of it goes to test-artifacts/browser/ and the server's log to the report.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from lab_server import CHROMIUM, Lab, artifact, running_lab

VIEWPORT = {"width": 1280, "height": 800}
# --disable-dev-shm-usage: a CI container's /dev/shm is often 64 MB.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture
def lab(gateway: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    with running_lab(gateway, tmp_path / "lab") as server:
        yield server
        if request.node.stash.get(_FAILED, False):
            print(f"--- jupyter lab log ({server.log}) ---\n{server.log_tail()}", file=sys.stderr)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.on("console", lambda m: m.type == "error" and print("browser console:", m.text))
    try:
        yield tab
    finally:
        if request.node.stash.get(_FAILED, False):
            path = artifact("FAILED-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + ".png")
            try:
                tab.screenshot(path=str(path))
                print(f"screenshot of the failure: {path}", file=sys.stderr)
            except Exception as e:  # the page may have gone with the failure
                print(f"no failure screenshot: {e}", file=sys.stderr)
        context.close()
