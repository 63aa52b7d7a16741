"""Every notebook driven as a learner drives it: in JupyterLab, in Chromium, by mouse and keyboard.

For each notebook (quick mode): open it, dismiss first-time dialogs, Run ▸ Run All Cells from the
menu, wait until the kernel is idle, fail on any traceback in the page or any ``error`` message from
the kernel; then, for every interactive widget (a top-level ipywidgets view with at least one
control), act on each of its controls — arrow keys on a slider handle (a mouse drag if the keyboard
does not move it), the next option of a dropdown / toggle-buttons / radio group, a checkbox, then
every button — and assert that the visible output changed (text, a label, a re-drawn figure).
Every button must change something visible (a transient "training…" label counts: a
MutationObserver sees it even when a fast re-run restores the page); a slider or
dropdown that only parameterises a button's work may leave the page unchanged when its widget has
a button. A full-notebook screenshot and one per widget go to
``screenshots/`` (git-ignored), with a JSON log of every interaction.

Run alone with ``make browser-test``; skipped with a reason when Chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

RUN_ALL_TIMEOUT_S = 240       # quick mode: every notebook should finish in well under a minute
CONTROL_TIMEOUT_S = 30        # a slider / dropdown reaction
BUTTON_TIMEOUT_S = 120        # a button may train for a few quick-mode steps
KEEP_CHANGING_S = 6         # stop waiting for a view that keeps updating (a running animation)
MAX_SCREENSHOT_HEIGHT = 16000
NO_NOTEBOOKS = "<no notebooks>"


# -- JavaScript run in the page ------------------------------------------------------------------

# The visible state of every output in the notebook: text, image sources and input values, with the
# control being operated removed (its own readout always changes and proves nothing).
SNAPSHOT_JS = """() => {
  const parts = [];
  for (const el of document.querySelectorAll('.jp-Notebook .jp-Cell .jp-OutputArea-output')) {
    if (el.parentElement.closest('.jp-OutputArea-output')) continue;
    const c = el.cloneNode(true);
    c.querySelectorAll('[data-bt-active]').forEach(x => x.remove());
    parts.push(c.textContent.replace(/\\s+/g, ' '));
    c.querySelectorAll('img').forEach(img => parts.push(img.getAttribute('src') || ''));
    c.querySelectorAll('svg').forEach(svg => parts.push(svg.outerHTML.length + ':' +
                                                         svg.textContent));
  }
  for (const el of document.querySelectorAll('.jp-Notebook .jp-OutputArea-output canvas')) {
    try { parts.push(el.toDataURL()); } catch (e) { parts.push('canvas'); }
  }
  return parts.join('\\n');
}"""

# Count DOM changes in output areas (text, added/removed nodes, image sources) outside the control
# being operated, from now on: catches a "training…" label that a fast, deterministic re-run puts
# back before the next poll.
WATCH_JS = """() => {
  if (window.__btObserver) window.__btObserver.disconnect();
  window.__btMutations = 0;
  const root = document.querySelector('.jp-Notebook');
  window.__btObserver = new MutationObserver(list => {
    for (const m of list) {
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (!el || el.closest('[data-bt-active]') || !el.closest('.jp-OutputArea-output')) continue;
      window.__btMutations += 1;
    }
  });
  window.__btObserver.observe(root, {subtree: true, childList: true, characterData: true,
                                     attributes: true, attributeFilter: ['src']});
}"""

MUTATIONS_JS = "() => window.__btMutations || 0"

BUSY_JS = """() => {
  const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const status = ind ? ind.getAttribute('data-status') : 'unknown';
  const running = Array.from(document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt'))
                       .some(p => p.textContent.includes('[*]'));
  return {status, running};
}"""

ERRORS_JS = """() => {
  const out = [];
  const sel = '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]';
  for (const el of document.querySelectorAll(sel)) {
    const t = el.textContent;
    if (/Traceback|Error\\b.*\\n|^\\s*-{20,}/m.test(t) && /Traceback|Error/.test(t)) {
      out.push(t.slice(-1500));
    }
  }
  return out;
}"""

# Tag every top-level widget view that holds controls and every control in it; return a list of
# {group, cell, controls: [{id, kind, label}]} in page order.
TAG_CONTROLS_JS = """() => {
  const clean = (t) => (t || '').replace(/[\\u200b\\s]+/g, ' ').trim();
  const label = (root) => {
    const texts = Array.from(root.querySelectorAll('.widget-label, .widget-label-basic'))
      .map(e => clean(e.textContent));
    texts.push(clean(root.getAttribute('title')), clean(root.textContent));
    return (texts.find(t => t) || '').slice(0, 60);
  };
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'));
  const groups = [];
  let n = 0;
  const views = '.jp-Notebook .jp-OutputArea-output .jupyter-widgets';
  for (const root of document.querySelectorAll(views)) {
    if (root.parentElement.closest('.jupyter-widgets')) continue;
    const controls = [];
    const all = (sel) => [root, ...root.querySelectorAll(sel)].filter(e => e.matches(sel));
    const add = (el, kind, lab) => {
      if (el.closest('.mod-disabled') || el.disabled || el.querySelector('[disabled]')) return;
      if (!el.getClientRects().length) return;       // hidden (display: none, a closed tab)
      if (el.closest('.widget-play')) return;
      const id = 'c' + (n++);
      el.setAttribute('data-bt-id', id);
      controls.push({id, kind, label: lab});
    };
    all('.widget-slider').forEach(el => {
      if (el.querySelector('.noUi-handle')) add(el, 'slider', label(el));
    });
    all('.widget-dropdown').forEach(el => {
      const s = el.querySelector('select');
      if (s && s.options.length > 1 && !s.disabled) add(el, 'dropdown', label(el));
    });
    all('.widget-toggle-buttons').forEach(el => {
      if (el.querySelectorAll('button').length > 1) add(el, 'toggle-buttons', label(el));
    });
    all('.widget-radio').forEach(el => {
      if (el.querySelectorAll('input[type=radio]').length > 1) add(el, 'radio', label(el));
    });
    all('.widget-checkbox').forEach(el => add(el, 'checkbox', label(el)));
    all('button.widget-toggle-button').forEach(el => {
      if (!el.closest('.widget-toggle-buttons')) add(el, 'toggle', el.textContent.trim());
    });
    all('button.jupyter-button').forEach(el => {
      if (el.closest('.widget-toggle-buttons') || el.classList.contains('widget-toggle-button'))
        return;
      add(el, 'button', (el.textContent.trim() || el.getAttribute('title') || '').slice(0, 60));
    });
    if (!controls.length) continue;
    const gid = 'g' + groups.length;
    root.setAttribute('data-bt-group', gid);
    const cell = root.closest('.jp-Cell');
    groups.push({group: gid, cell: cells.indexOf(cell), controls});
  }
  return groups;
}"""


# -- page helpers --------------------------------------------------------------------------------

def _dismiss_dialogs(page) -> list[str]:
    """Accept a kernel-choice dialog, refuse news toasts; returns what was dismissed."""
    dismissed = []
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        dismissed.append(dialog.first.inner_text()[:80].replace("\n", " "))
        page.locator(".jp-Dialog .jp-mod-accept").first.click()
    for toast in page.locator(".Toastify__toast").all():
        text = toast.inner_text()
        dismissed.append(text[:80].replace("\n", " "))
        no = toast.get_by_role("button", name=re.compile(r"^(No|Dismiss)", re.I))
        if no.count():
            no.first.click()
        elif toast.locator(".Toastify__close-button").count():
            toast.locator(".Toastify__close-button").first.click()
    return dismissed


def dismissed_now(page) -> bool:
    """True while a dialog or toast is still on screen."""
    return bool(page.locator(".jp-Dialog, .Toastify__toast").count())


def _open_notebook(page, server, rel: str) -> list[str]:
    page.goto(server.url(rel))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    dismissed: list[str] = []
    deadline = time.monotonic() + 90
    ready_polls = 0
    while ready_polls < 4:                       # kernel up, idle, and no dialog for ~2 s
        dismissed += _dismiss_dialogs(page)
        has_kernel = any(s["path"] == rel and s.get("kernel")
                         for s in server.api("GET", "sessions"))
        idle = page.evaluate(BUSY_JS)["status"] == "idle"
        ready_polls = ready_polls + 1 if (has_kernel and idle and not dismissed_now(page)) else 0
        if time.monotonic() > deadline:
            pytest.fail(f"{rel}: no idle kernel 90 s after opening (kernel session: {has_kernel}, "
                        f"status {page.evaluate(BUSY_JS)['status']!r}); see {server.log}")
        time.sleep(0.5)
    tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if tab.count():                              # collapse the file browser: wider screenshots
        tab.first.click()
    return dismissed


def _run_all(page) -> None:
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _wait_idle(page, timeout_s: float, what: str) -> None:
    time.sleep(0.5)
    deadline = time.monotonic() + timeout_s
    idle_polls = 0
    while True:
        state = page.evaluate(BUSY_JS)
        idle_polls = idle_polls + 1 if state == {"status": "idle", "running": False} else 0
        if idle_polls >= 3:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still running after {timeout_s} s (kernel {state['status']}, "
                        f"cell running: {state['running']}); quick mode must finish faster")
        time.sleep(0.3)


def _wait_settled(page, before: str, timeout_s: float) -> tuple[str, bool]:
    """Wait for the kernel to go idle and the page to stop changing.

    Returns the final snapshot and whether any snapshot on the way differed from ``before``
    (a status label such as "training…" that a deterministic re-run later restores counts: the
    learner saw the page react).
    """
    time.sleep(0.2)
    start = time.monotonic()
    last, stable, seen_change = None, 0, False
    while True:
        snap = page.evaluate(SNAPSHOT_JS)
        seen_change |= snap != before
        idle = page.evaluate(BUSY_JS)["status"] == "idle"
        stable = stable + 1 if (idle and snap == last) else 0
        last = snap
        elapsed = time.monotonic() - start
        if stable >= 3 and (seen_change or elapsed > 1.2):
            return snap, seen_change
        if seen_change and elapsed > KEEP_CHANGING_S and snap != before:
            return snap, seen_change             # an animation that keeps redrawing
        if elapsed > timeout_s:
            return snap, seen_change
        time.sleep(0.25)


def _slider_readout(control) -> str:
    readout = control.locator(".widget-readout")
    return readout.first.inner_text() if readout.count() else ""


def _disabled_controls(page, gid: str) -> list[str]:
    """The data-bt-ids of the widget's controls that are disabled right now."""
    return page.evaluate(
        """gid => Array.from(document.querySelectorAll(
               `[data-bt-group="${gid}"][data-bt-id], [data-bt-group="${gid}"] [data-bt-id]`))
             .filter(el => el.disabled || el.querySelector('[disabled]'))
             .map(el => el.getAttribute('data-bt-id'))""", gid)


def _unavailable(control) -> str | None:
    """'hidden' or 'disabled' when a control cannot be operated at the moment, else None."""
    if not control.is_visible():
        return "hidden"
    if control.evaluate("el => !!(el.disabled || el.closest('.mod-disabled') "
                        "|| el.querySelector('[disabled]'))"):
        return "disabled"
    return None


def _act(page, control, kind: str) -> str:
    """Operate one control the way a learner would; return a short description."""
    if kind == "slider":
        handle = control.locator(".noUi-handle").first
        before = _slider_readout(control)
        handle.focus()
        page.keyboard.press("ArrowRight")
        time.sleep(0.2)
        if _slider_readout(control) != before:
            return f"ArrowRight: {before} → {_slider_readout(control)}"
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        time.sleep(0.2)
        if _slider_readout(control) != before:
            return f"ArrowLeft: {before} → {_slider_readout(control)}"
        box = handle.bounding_box()
        if box is None:
            return f"could not move (no visible handle; readout {before})"
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] - 40, box["y"] + box["height"] / 2, steps=5)
        page.mouse.up()
        return f"mouse drag: {before} → {_slider_readout(control)}"
    if kind == "dropdown":
        select = control.locator("select").first
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.selectedIndex")
        target = (current + 1) % len(options)
        select.select_option(index=target)
        return f"select {options[current]!r} → {options[target]!r}"
    if kind == "toggle-buttons":
        buttons = control.locator("button")
        for i in range(buttons.count()):
            if "mod-active" not in (buttons.nth(i).get_attribute("class") or ""):
                buttons.nth(i).click()
                return f"click option {buttons.nth(i).inner_text().strip()!r}"
    if kind == "radio":
        radios = control.locator("input[type=radio]")
        for i in range(radios.count()):
            if not radios.nth(i).is_checked():
                radios.nth(i).check()
                return f"choose radio option {i}"
    if kind == "checkbox":
        box = control.locator("input[type=checkbox]").first
        box.click()
        return f"checkbox → {box.is_checked()}"
    control.click()                              # button or toggle
    return "click"


def _kernel_errors(messages: list[str]) -> list[str]:
    return [m for m in messages if m]


def _watch_kernel_errors(page) -> list[str]:
    """Collect ``error`` replies seen on the kernel websocket (exceptions in widget callbacks
    that no output area displays still arrive here)."""
    errors: list[str] = []
    pattern = re.compile(rb'"msg_type":\s*"error".*?"ename":\s*"([^"]*)".*?"evalue":\s*"([^"]*)"',
                         re.S)

    def on_frame(payload):
        data = payload.encode() if isinstance(payload, str) else payload
        if b'"error"' in data:
            for ename, evalue in pattern.findall(data):
                errors.append(f"{ename.decode(errors='replace')}: "
                              f"{evalue.decode(errors='replace')[:300]}")

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return errors


def _screenshot_notebook(page, path: Path) -> None:
    """Grow the viewport to the notebook's height so one PNG shows the whole notebook."""
    # Height = bottom of the last cell with the notebook scrolled to the top (menus and toolbar
    # included); the scroller's scrollHeight would add JupyterLab's "scroll past end" padding.
    height = page.evaluate("""() => {
      const n = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
      const cells = n ? n.querySelectorAll('.jp-Cell') : [];
      if (!cells.length) return 1600;
      n.scrollTop = 0;
      return cells[cells.length - 1].getBoundingClientRect().bottom + 40;
    }""")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"],
                            "height": int(min(MAX_SCREENSHOT_HEIGHT, max(800, height)))})
    time.sleep(1.0)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


# -- driving one notebook -----------------------------------------------------------------------

def _exercise_widget(page, group: dict) -> tuple[dict, list[str]]:
    """Act on every control of one widget view; return its log entry and any problems."""
    gid = group["group"]
    entry: dict = {"widget": gid, "cell": group["cell"], "controls": []}
    problems = []
    has_button = any(c["kind"] in ("button", "toggle") for c in group["controls"])
    any_change = False
    # Parameters first (sliders, dropdowns, ...), then the buttons that do the work.
    for c in sorted(group["controls"], key=lambda c: c["kind"] in ("button", "toggle")):
        control = page.locator(f'[data-bt-id="{c["id"]}"]')
        state = _unavailable(control)                # hidden/disabled by an earlier choice
        if state:
            entry["controls"].append({"kind": c["kind"], "label": c["label"],
                                      "action": f"skipped: {state} now", "changed_output": False})
            continue
        control.scroll_into_view_if_needed()
        control.evaluate("el => el.setAttribute('data-bt-active', '1')")
        before = page.evaluate(SNAPSHOT_JS)
        t = time.monotonic()
        disabled_before = _disabled_controls(page, gid)
        page.evaluate(WATCH_JS)
        action = _act(page, control, c["kind"])
        is_button = c["kind"] in ("button", "toggle")
        _, changed = _wait_settled(page, before,
                                   BUTTON_TIMEOUT_S if is_button else CONTROL_TIMEOUT_S)
        if _disabled_controls(page, gid) != disabled_before:
            # The widget greys out controls while it works (a training run in a thread): wait
            # until it gives them back, so the next control acts on a finished state.
            deadline = time.monotonic() + BUTTON_TIMEOUT_S
            while (_disabled_controls(page, gid) != disabled_before
                   and time.monotonic() < deadline):
                time.sleep(0.5)
            changed |= _wait_settled(page, before, CONTROL_TIMEOUT_S)[1]
        changed |= page.evaluate(MUTATIONS_JS) > 0
        control.evaluate("el => el.removeAttribute('data-bt-active')")
        any_change |= changed
        entry["controls"].append({"kind": c["kind"], "label": c["label"], "action": action,
                                  "changed_output": changed,
                                  "seconds": round(time.monotonic() - t, 1)})
        if not changed and (is_button or not has_button):
            problems.append(f"widget {gid} (cell {group['cell']}): {c['kind']} {c['label']!r} "
                            f"({action}) changed nothing visible")
    entry["changed_output"] = any_change
    if not any_change:
        problems.append(f"widget {gid} (cell {group['cell']}): no control changed the visible "
                        f"output ({[c['label'] for c in group['controls']]})")
    return entry, problems


def drive_notebook(page, server, rel: str, screenshot_dir: Path) -> tuple[dict, list[str]]:
    """Open, run all, operate every widget, screenshot; return the log and the problems found."""
    kernel_errors = _watch_kernel_errors(page)
    stem = rel.removesuffix(".ipynb").replace("/", "__")
    log: dict = {"notebook": rel, "widgets": []}
    t0 = time.monotonic()
    log["dismissed"] = _open_notebook(page, server, rel)
    _run_all(page)
    _wait_idle(page, RUN_ALL_TIMEOUT_S, f"{rel}: Run All Cells")
    log["run_all_s"] = round(time.monotonic() - t0, 1)
    problems = []
    errors = page.evaluate(ERRORS_JS) + kernel_errors
    if errors:
        problems.append("error after Run All Cells:\n" + "\n---\n".join(errors))
    else:
        for group in page.evaluate(TAG_CONTROLS_JS):
            entry, found = _exercise_widget(page, group)
            log["widgets"].append(entry)
            problems += found
            page.locator(f'[data-bt-group="{group["group"]}"]').screenshot(
                path=str(screenshot_dir / f"{stem}__{group['group']}.png"))
        errors = page.evaluate(ERRORS_JS) + kernel_errors
        if errors:
            problems.append("error after widget interactions:\n" + "\n---\n".join(errors))
    log["seconds"] = round(time.monotonic() - t0, 1)
    log["problems"] = problems
    _screenshot_notebook(page, screenshot_dir / f"{stem}.png")
    (screenshot_dir / f"{stem}.json").write_text(json.dumps(log, indent=1, ensure_ascii=False))
    return log, problems


# -- the tests -----------------------------------------------------------------------------------

def test_notebook_in_jupyterlab(rel, lab_server, lab_page, screenshot_dir):
    """``rel`` runs over every notebook (conftest.pytest_generate_tests)."""
    if rel == NO_NOTEBOOKS:
        pytest.skip(f"no notebooks under {lab_server.root}")
    _, problems = drive_notebook(lab_page, lab_server, rel, screenshot_dir)
    assert not problems, f"{rel}:\n" + "\n".join(problems)


def test_harness_catches_dead_slider_and_callback_error(lab_server, lab_page, tmp_path):
    """The harness itself can fail: a slider that changes nothing and a button whose callback
    raises (in no output area) are both reported, while a working slider passes."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import ipywidgets as w\n"
            "good = w.IntSlider(3, 0, 9, description='good'); label = w.Label('n=3')\n"
            "good.observe(lambda ch: setattr(label, 'value', f'n={ch.new}'), 'value')\n"
            "w.VBox([good, label])"),
        nbformat.v4.new_code_cell("w.VBox([w.IntSlider(2, 0, 5, description='dead'), "
                                  "w.Label('static')])"),
        nbformat.v4.new_code_cell(
            "boom = w.Button(description='boom')\n"
            "def explode(_):\n    raise RuntimeError('callback broke')\n"
            "boom.on_click(explode)\nboom"),
    ]
    rel = "_harness_selftest.ipynb"
    nbformat.write(nb, lab_server.root / rel)
    try:
        log, problems = drive_notebook(lab_page, lab_server, rel, tmp_path)
    finally:
        (lab_server.root / rel).unlink()
    text = "\n".join(problems)
    assert [w["changed_output"] for w in log["widgets"]] == [True, False, False], log
    assert "slider 'dead'" in text and "changed nothing visible" in text, text
    assert "RuntimeError: callback broke" in text, text
