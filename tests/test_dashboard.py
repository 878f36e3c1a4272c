"""The live dashboard in a real headless Chromium, and the offline report page."""

from __future__ import annotations

import http.client
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import Repo, fewer_rounds

CHROMIUM = shutil.which("chromium")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover — the test extra installs it
    sync_playwright = None

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="needs Debian's chromium (apt-get install chromium) and pip's playwright")


def start_dashboard(repo: Repo, *args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "dashboard", "--port", "0", *args],
                            cwd=repo.path, env=repo.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"no URL from the dashboard: {line!r} {err}")
    return proc, line.split(" on ", 1)[1].split()[0]


# Every wait below returns the moment its event happens (the process exits, the element
# appears); the limit only turns a hang into a failure, so it is generous for a loaded machine.
PATIENCE_S = 120


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=PATIENCE_S)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def browser():
    with sync_playwright() as p:
        # Debian's chromium, never a downloaded one; root needs --no-sandbox
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def new_page(browser, **options):
    page = browser.new_page(**options)
    page.set_default_timeout(PATIENCE_S * 1000)  # playwright's own default is 30 s
    return page


def offline(page) -> list[str]:
    """Abort every request that would leave this machine; returns the URLs it stopped."""
    stopped: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("http://127.0.0.1", "file://", "data:")):
            return r.continue_()
        stopped.append(url)
        return r.abort()

    page.route("**/*", route)
    return stopped


@needs_browser
def test_dashboard_shows_a_new_experiment_without_a_reload(session: Repo, browser, tmp_path: Path):
    from autoresearch.progress import ProgressEvent, tracked
    from autoresearch.session import open_session

    fewer_rounds(session)  # the page shows the keep, however few rounds decided it
    proc, url = start_dashboard(session)
    try:
        page = new_page(browser, viewport={"width": 1300, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        stopped = offline(page)
        page.goto(url)
        page.wait_for_selector("#chart .scatterlayer .point")
        assert page.locator("#experiments tbody tr").count() == 1  # the baseline
        page.wait_for_function("document.getElementById('live-note').textContent.includes('updated')")
        page.evaluate("window.notReloaded = true")

        # the running experiment's progress, as the experiment's progress hook writes it
        paths = open_session(session.path).paths
        write = tracked(lambda _: None, paths.progress, 2, "halve the cost")
        write(ProgressEvent("measuring", round=3, max_rounds=24, seconds_per_round=2.0))
        page.wait_for_function("document.getElementById('now').textContent.includes('round 3/24')")
        assert "halve the cost" in page.locator("#now").inner_text()
        paths.progress.unlink()
        page.wait_for_function("document.getElementById('now').textContent.includes('idle')")

        session.set("COST", 50)
        session.cli("run", "-m", "halve the cost")  # a real experiment appends a ledger line
        page.wait_for_selector("#experiments tbody tr[data-run='2']")
        assert page.evaluate("window.notReloaded") is True
        assert "keep" in page.locator("#experiments tbody tr[data-run='2']").inner_text()
        assert "1 kept" in page.locator("#headline").inner_text()
        page.wait_for_function("document.querySelectorAll('#chart .scatterlayer .point').length >= 2")

        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        pixels = _rgb(shot)
        assert len(np.unique(pixels, axis=0)) > 50, "the screenshot is not blank"
        assert _count(pixels, (0x1A, 0x98, 0x50)) > 200, "the running-best line is drawn"
        assert errors == [] and stopped == []
    finally:
        code = stop(proc)
    assert code == 0
    assert proc.poll() is not None


@needs_browser
def test_report_page_opens_offline_with_chart_and_filters(session: Repo, browser, tmp_path: Path):
    fewer_rounds(session)  # the page shows a keep and a discard, however few rounds decided them
    session.set("COST", 50)
    session.cli("run", "-m", "halve the cost")
    session.set("COST", 70)
    session.cli("run", "-m", "make it slower")
    session.cli("report", "--out", str(tmp_path))
    page = new_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    stopped = offline(page)
    page.goto((tmp_path / "report.html").as_uri())
    page.wait_for_selector("#chart .scatterlayer .point")
    assert page.locator("#experiments tbody tr").count() == 3
    page.locator("input[data-group='worse']").uncheck()
    assert page.locator("#experiments tbody tr").count() == 2
    page.locator("#filters input[type=search]").fill("halve")
    assert page.locator("#experiments tbody tr").count() == 1
    assert errors == [] and stopped == []


def test_dashboard_refuses_other_interfaces(session: Repo):
    proc = session.cli("dashboard", "--host", "0.0.0.0", "--port", "0", check=2)
    assert "--allow-remote" in proc.stderr


def test_dashboard_answers_only_for_its_own_host_name(session: Repo):
    proc, url = start_dashboard(session)
    try:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert _get(port, "/api/state", "127.0.0.1")[0] == 200
        assert _get(port, "/api/state", f"localhost:{port}")[0] == 200
        status, body = _get(port, "/api/state", "attacker.example:80")
        assert status == 403 and b"forbidden" in body
        assert _get(port, "/nothing", "127.0.0.1")[0] == 404
    finally:
        assert stop(proc) == 0


def _get(port: int, path: str, host: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE_S)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _rgb(png: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(png) as image:
        return np.asarray(image.convert("RGB"), dtype=int).reshape(-1, 3)


def _count(pixels: np.ndarray, color: tuple[int, int, int]) -> int:
    return int(np.all(np.abs(pixels - np.array(color)) < 40, axis=1).sum())
