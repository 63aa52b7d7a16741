"""Fixtures for the real-browser suite: a throw-away JupyterLab server and Debian's Chromium.

The server runs on a free loopback port with a random token, in quick mode
(METAGAN_LAB_QUICK=1), with its own config/data/runtime/settings/workspace folders under a
temporary directory and JupyterLab's news and update checks switched off. Notebooks are copied
into a temporary work folder so the repository's notebooks never receive outputs.

Skips (with the reason) when Playwright or /usr/bin/chromium is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("METAGAN_LAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
SCREENSHOTS = REPO / "screenshots"
SERVER_START_TIMEOUT_S = 90

# JupyterLab user settings for the test server: no news/update toasts, and every cell kept in the
# DOM (the default windowing renders only visible cells, which hides widgets from the test).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"checkForUpdates": False, "fetchNews": "false", "doNotDisturbMode": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in Chromium (make browser-test)")


def notebook_dir() -> Path:
    """Folder whose notebooks are driven: $METAGAN_LAB_BROWSER_NOTEBOOKS, else notebooks/."""
    return Path(os.environ.get("METAGAN_LAB_BROWSER_NOTEBOOKS", REPO / "notebooks")).resolve()


def notebooks() -> list[str]:
    """The notebooks driven, relative to notebook_dir(): the top-level ones (the lessons with
    widgets); with METAGAN_LAB_BROWSER_EXERCISES=1 also exercises/, the student versions as
    learners open them (no widgets; their checks report unwritten functions without an error;
    nbval runs the instructor versions in course/source and tests/exercises autogrades one)."""
    root = notebook_dir()
    pattern = "**/*.ipynb" if os.environ.get("METAGAN_LAB_BROWSER_EXERCISES") == "1" else "*.ipynb"
    found = sorted(p.relative_to(root).as_posix() for p in root.glob(pattern)
                   if ".ipynb_checkpoints" not in p.parts)
    return found or ["<no notebooks>"]


def pytest_generate_tests(metafunc):
    if "rel" in metafunc.fixturenames:
        metafunc.parametrize("rel", notebooks())


def _require_browser() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("browser suite skipped: Playwright is not installed "
                    "(pip install 'playwright==1.65.*' into .venv)")
    if not CHROMIUM.exists():
        pytest.skip(f"browser suite skipped: no Chromium at {CHROMIUM} "
                    "(as root: apt-get install -y chromium; or set METAGAN_LAB_CHROMIUM)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings_dir: Path) -> None:
    for rel, values in LAB_SETTINGS.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


class LabServer:
    """A running JupyterLab: ``url(path)`` opens a notebook; ``api`` calls the REST API."""

    def __init__(self, base: str, token: str, root: Path, log: Path):
        self.base, self.token, self.root, self.log = base, token, root, log

    def url(self, rel_path: str) -> str:
        return f"{self.base}/lab/tree/{rel_path}?reset&token={self.token}"

    def api(self, method: str, path: str):
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel (one notebook at a time keeps the 2-core machine responsive)."""
        for kernel in self.api("GET", "kernels"):
            self.api("DELETE", f"kernels/{kernel['id']}")


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    _require_browser()
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "work"
    shutil.copytree(notebook_dir(), root,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    dirs = {name: tmp / name for name in ("config", "data", "runtime", "settings", "workspaces",
                                          "ipython")}
    for d in dirs.values():
        d.mkdir()
    _write_settings(dirs["settings"])
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}   # inline plots in the page
    env.update(METAGAN_LAB_QUICK="1",
               JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), IPYTHONDIR=str(dirs["ipython"]),
               JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1")
    token, port = secrets.token_hex(24), _free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter), "lab", "--no-browser", "--allow-root", f"--IdentityProvider.token={token}",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={dirs['settings']}",
           f"--LabApp.workspaces_dir={dirs['workspaces']}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]
    log = tmp / "jupyterlab.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file,
                                stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                server.api("GET", "status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer on port {port} within "
                                f"{SERVER_START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser(lab_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                      headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def lab_page(browser, lab_server):
    """A fresh page (own context) with a tall viewport; kernels are stopped afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
        lab_server.shutdown_kernels()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
