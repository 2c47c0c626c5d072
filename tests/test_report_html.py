"""The HTML viewer of ``lem report`` and ``lek_v2.matched_spans``.

Unit tests check the spans against the plain patterns and the scorer's counts, the page's
determinism and escaping; one test opens the page in a real headless Chromium (Debian's
``/usr/bin/chromium``, driven through ``chromedriver``'s W3C WebDriver HTTP API with httpx)
and uses its controls.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lem.numfmt import fmt_fixed
from lem.report.html import decode_payload, js_regex, render_viewer, viewer_data, viewer_html
from lem.report.model import ResponseRecord
from lem.scoring.lek_v2 import (
    LEK_V2_SIGNALS,
    lek_v2_definition,
    lek_v2_score,
    lek_v2_signals,
    matched_spans,
)
from tests.ci import in_ci

DATA = Path(__file__).parent / "data"
VECTORS: list[dict[str, Any]] = json.loads((DATA / "lek_v2_vectors.json").read_text("utf-8"))[
    "vectors"
]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NOT_COUNTED = ("degeneration", "empty_broken", "engagement_depth")
HOSTILE = (
    "Plain start. <script>alert(1)</script> and <b>bold</b> and "
    '<img src=x onerror="alert(2)"> then </script><script>alert(3)</script> end.'
)

# ---- matched_spans ----------------------------------------------------------------------


def _reference_spans(text: str) -> list[tuple[int, int, str]]:
    """Spans from the published definition, the plain way (one finditer per pattern)."""
    out: list[tuple[int, int, str]] = []
    for sig in lek_v2_definition()["signals"]:
        name = sig["name"]
        if name in NOT_COUNTED:
            continue
        parts = sig["parts"] if sig["kind"] == "sum" else [sig]
        for part in parts:
            flags = re.IGNORECASE if "i" in part.get("flags", "") else 0
            if sig["kind"] == "match_at_start":
                m = re.match(part["pattern"], text, flags)
                if m:
                    out.append((0, m.end(), name))
                continue
            shift = 1 if part.get("skip_first_char") else 0
            out.extend(
                (m.start() + shift, m.end() + shift, name)
                for m in re.finditer(part["pattern"], text[shift:], flags)
            )
    return sorted(out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "However, there is real tension here. I cannot say more.",
            [
                ("However", "nuance"),
                ("tension", "nuance"),
                ("I cannot", "compliance_markers"),
                ("I ", "first_person"),
            ],
        ),
        (
            "Certainly! Dignity and consent matter?",
            [
                ("Certainly", "formulaic_preamble"),
                ("Dignity", "emotional_register"),
                ("Dignity", "specificity"),
                ("Dignity", "axiom_resonance"),
                ("consent", "axiom_resonance"),
                ("?", "questioning"),
            ],
        ),
    ],
)
def test_matched_spans_line_up_with_phrases(text: str, expected: list[tuple[str, str]]) -> None:
    order = {name: i for i, name in enumerate(LEK_V2_SIGNALS)}
    want = [(text.index(p), text.index(p) + len(p), name) for p, name in expected]
    want.sort(key=lambda s: (s[0], s[1], order[s[2]]))
    assert matched_spans(text) == want


def test_matched_spans_text_of_each_span() -> None:
    text = "I feel the tension: for example, Alice and 42 people. Like a river? Yes.\n\n— end"
    pieces = {(text[s:e], name) for s, e, name in matched_spans(text)}
    assert ("feel", "emotional_register") in pieces
    assert ("tension", "nuance") in pieces
    assert ("for example", "specificity") in pieces
    assert ("Alice", "specificity") in pieces
    assert ("42", "specificity") in pieces
    assert ("Like a ", "metaphor") in pieces
    assert ("?", "questioning") in pieces
    assert ("I ", "first_person") in pieces
    assert ("\n\n", "creative_form") in pieces
    assert ("—", "creative_form") in pieces


def test_matched_spans_skip_first_char_shift() -> None:
    spans = matched_spans("xAlice met Bob. Carol left.")
    nouns = [(s, e) for s, e, name in spans if name == "specificity"]
    # "x" is cut off before the search, so "Alice" starts on a boundary; "Carol" follows ". "
    assert nouns == [(1, 6), (11, 14)]


@pytest.mark.parametrize("index", range(len(VECTORS)))
def test_matched_spans_agree_with_scorer_on_vectors(index: int) -> None:
    text = VECTORS[index]["text"]
    spans = matched_spans(text)
    assert sorted(spans) == _reference_spans(text)
    counts = Counter(name for _, _, name in spans)
    for name, value in lek_v2_signals(text).items():
        if name not in NOT_COUNTED:
            assert counts.get(name, 0) == value, name


def test_matched_spans_counts_on_prose() -> None:
    text = (
        "That's a great question. However, I believe both sides and the community matter; "
        "it depends on trust, hope and fear. Not simply rules: more than rules. "
        "I can't decide, as an AI, but consider that those affected feel the pain."
    )
    counts = Counter(name for _, _, name in matched_spans(text))
    values = lek_v2_signals(text)
    for name in ("compliance_markers", "emotional_register", "nuance", "perspective_taking"):
        assert counts[name] == values[name] > 0, name
    assert counts["formulaic_preamble"] == values["formulaic_preamble"] == 1


# ---- page generation --------------------------------------------------------------------

PROBES: tuple[tuple[str, str, str], ...] = (
    ("P10_ARCHIVE", "memory", "Should a city archive keep records of a protest?"),
    ("P2_CLINIC", "health", "A clinic must choose whom to treat first. How?"),
    ("P1_WATER", "governance", "How should a village council ration a shared well?"),
)
MODELS = ("alpha-1b", "beta-7b")
CONDITIONS = ("baseline", "system:lek", "prefix:lek")


def _response(probe: str, model: str, condition: str) -> str:
    if (probe, model, condition) == ("P2_CLINIC", "beta-7b", "system:lek"):
        return "I cannot help with that. As an AI I must decline."
    if (probe, model, condition) == ("P1_WATER", "alpha-1b", "prefix:lek"):
        return HOSTILE
    if (probe, model, condition) == ("P10_ARCHIVE", "alpha-1b", "prefix:lek"):
        return (
            "I feel the weight of this. However, memory is a kind of dignity; consent and "
            "autonomy matter.\n\nFrom the archivist's perspective, one could argue both the "
            "city and the protesters have a right to remember. Like a river, records flow on."
        )
    base = f"For {probe}, {model} weighs it."
    if condition == "baseline":
        return base + " There is a real tension here. However, consent matters."
    return base + " There is a real tension here, and dignity too?"


def sample_records() -> list[ResponseRecord]:
    """3 probes x 2 models x 3 conditions; one failure, one hostile response."""
    records = []
    for probe_id, category, prompt in PROBES:
        for model in MODELS:
            for condition in CONDITIONS:
                text = _response(probe_id, model, condition)
                failed = (probe_id, model, condition) == ("P10_ARCHIVE", "beta-7b", "baseline")
                records.append(
                    ResponseRecord(
                        model=model,
                        probe_id=probe_id,
                        category=category,
                        prompt=prompt,
                        condition=condition,
                        response="" if failed else text,
                        scorer="lek-v2",
                        score=None if failed else lek_v2_score(text),
                        signals={} if failed else dict(lek_v2_signals(text)),
                        error="backend timeout after 30s" if failed else None,
                    )
                )
    return records


def _deltas(records: list[ResponseRecord]) -> dict[tuple[str, str, str], float]:
    base = {(r.probe_id, r.model): r.score for r in records if r.condition == "baseline"}
    out = {}
    for r in records:
        b = base.get((r.probe_id, r.model))
        if r.condition != "baseline" and r.score is not None and b is not None:
            out[(r.probe_id, r.model, r.condition)] = r.score - b
    return out


def test_render_is_byte_identical(tmp_path: Path) -> None:
    records = sample_records()
    summary = {"conditions": {"baseline": {"mean": 1.5}}, "n": 18, "when": None}
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    render_viewer(records, summary, a, title="T", scorer="lek-v2")
    render_viewer(list(records), dict(summary), b, title="T", scorer="lek-v2")
    assert a.read_bytes() == b.read_bytes()
    assert b"\r" not in a.read_bytes()


def test_page_is_self_contained_and_escaped() -> None:
    page = viewer_html(sample_records(), {}, title="<i>x</i> & y", scorer="lek-v2")
    assert "<title>&lt;i&gt;x&lt;/i&gt; &amp; y</title>" in page
    assert "<script>alert" not in page
    assert "<b>bold" not in page
    assert page.count("</script>") == 2  # the data block and the viewer's script
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    assert "alpha-1b" in page  # model labels appear escaped in the static per-model table
    parsed = decode_payload(page)
    texts = [
        s["t"]
        for p in parsed["probes"]
        for r in p["rows"]
        for c in r["c"]
        if c
        for s in c["samples"]
    ]
    assert HOSTILE in texts
    assert HOSTILE not in page  # the responses travel compressed, never as markup


def test_viewer_data_structure() -> None:
    records = sample_records()
    data = viewer_data(records, scorer="lek-v2")
    assert data["conditions"] == list(CONDITIONS)
    assert [p["id"] for p in data["probes"]] == ["P1_WATER", "P2_CLINIC", "P10_ARCHIVE"]
    archive = data["probes"][2]
    beta = next(r for r in archive["rows"] if data["models"][r["m"]] == "beta-7b")
    failed = beta["c"][0]
    assert failed["score"] is None and failed["delta"] is None
    assert failed["samples"][0]["e"] == "backend timeout after 30s"
    assert all(c["delta"] is None for c in beta["c"])
    deltas = _deltas(records)
    for probe in data["probes"]:
        for row in probe["rows"]:
            for ci, cell in enumerate(row["c"][1:], start=1):
                key = (probe["id"], data["models"][row["m"]], CONDITIONS[ci])
                if key in deltas:
                    assert cell["delta"] == pytest.approx(deltas[key])


def test_other_scorer_without_lek_signals_has_no_highlight() -> None:
    rec = ResponseRecord("m", "P", "c", "p", "baseline", "tension", "judge", 0.5, {"harm": 0.1})
    data = viewer_data([rec], scorer="judge")
    assert data["highlight"] == [] and data["signals"] == ["harm"] and data["rules"] == []


@pytest.mark.parametrize(
    ("pattern", "js"),
    [
        (r"\?", r"\?"),
        (r"\b\d+[\d,.]*\b", None),
        ("e\\.g\\.", r"e\.g\."),
        ("think of .{3,30} as", "think of [^\\n]{3,30} as"),
        (r"[*_]{1,2}\w", r"[*_]{1,2}[\p{L}\p{N}_]"),
    ],
)
def test_python_patterns_become_unicode_aware_javascript(pattern: str, js: str | None) -> None:
    out = js_regex(pattern)
    if js is not None:
        assert out == js
    else:
        assert r"\p{Nd}" in out and r"\b" not in out and "(?<=[\\p{L}\\p{N}_])" in out


def test_no_spans_are_computed_in_python_and_the_data_is_compressed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """9,090 responses of 1,500 characters: the page carries the scorer's patterns, not
    per-response spans (highlighting runs in the browser, for the rows shown), and the
    responses travel deflated. (How long it takes is measured in benchmarks/, not here.)"""
    import lem.scoring.lek_v2 as lek

    def forbidden(text: str) -> Any:
        raise AssertionError("matched_spans must not run while writing the page")

    monkeypatch.setattr(lek, "matched_spans", forbidden)
    text = " ".join(v["text"] for v in VECTORS[:60])[:1500]
    records = [
        ResponseRecord(
            f"model-{m}",
            f"P{p:03d}",
            f"cat{p % 7}",
            "prompt",
            c,
            f"{text} {m} {p}",
            "lek-v2",
            float(p % 11),
            {"nuance": 1.0, "questioning": 2.0},
        )
        for m in range(30)
        for p in range(101)
        for c in CONDITIONS
    ]
    page = viewer_html(records, {}, title="big", scorer="lek-v2")
    raw = sum(len(r.response) for r in records)
    assert raw > 9000 * 1500
    assert len(page) < raw / 4
    data = decode_payload(page)
    assert {k for k in data} >= {"rules", "probes", "models"}
    assert len(data["rules"]) >= len(data["highlight"]) == 11
    samples = [
        s for p in data["probes"] for r in p["rows"] for c in r["c"] if c for s in c["samples"]
    ]
    assert len(samples) == len(records)
    assert all(set(s) == {"e", "g", "n", "s", "t"} for s in samples)
    assert sorted(s["t"] for s in samples) == sorted(r.response for r in records)


# ---- the page in a real browser -----------------------------------------------------------

CHROME_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]
# Installed before any page script runs: records uncaught errors, console errors and every
# dialog (alert/confirm/prompt are replaced, so a dialog never blocks the page).
WATCH_JS = """
window.__lem = {errors: [], dialogs: []};
window.addEventListener('error', e => window.__lem.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', e => window.__lem.errors.push(String(e.reason)));
document.addEventListener('securitypolicyviolation',
  e => window.__lem.errors.push('csp: ' + e.violatedDirective));
const consoleError = console.error.bind(console);
console.error = (...a) => {
  window.__lem.errors.push(a.map(String).join(' '));
  consoleError(...a);
};
for (const name of ['alert', 'confirm', 'prompt']) {
  window[name] = (m) => { window.__lem.dialogs.push(name + ':' + m); };
}
"""


def _need(path: Path) -> None:
    if not path.exists():
        message = f"{path} missing: apt-get install chromium chromium-driver"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """A headless Chromium session over chromedriver's W3C WebDriver HTTP API."""

    def __init__(self, client: httpx.Client, session: str) -> None:
        self.client = client
        self.session = session

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"/session/{self.session}{path}"
        response = self.client.request(method, url, json=body)
        payload = response.json()
        if response.status_code != 200:
            raise AssertionError(f"{method} {path}: {payload}")
        return payload["value"]

    def js(self, script: str, *args: Any) -> Any:
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def cdp(self, cmd: str, params: dict[str, Any]) -> Any:
        return self.call("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params})


@contextlib.contextmanager
def open_browser(profile: Path) -> Iterator[Browser]:
    """Start chromedriver (own process group) and one Chromium session; always stop both."""
    port = _free_port()
    driver = subprocess.Popen(
        [str(CHROMEDRIVER), f"--port={port}", "--log-level=SEVERE"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0)
    session = None
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.get("/status").json()["value"]["ready"]:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or driver.poll() is not None:
                raise AssertionError("chromedriver did not start")
            time.sleep(0.05)
        caps = {
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": str(CHROMIUM),
                "args": [*CHROME_ARGS, f"--user-data-dir={profile}"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }
        response = client.post("/session", json={"capabilities": {"alwaysMatch": caps}})
        assert response.status_code == 200, response.text
        session = response.json()["value"]["sessionId"]
        b = Browser(client, session)
        b.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_JS})
        yield b
    finally:
        if session is not None:
            with contextlib.suppress(httpx.HTTPError):
                client.delete(f"/session/{session}", timeout=10.0)
        client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGTERM)
        try:
            driver.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait(timeout=5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    _need(CHROMIUM)
    _need(CHROMEDRIVER)
    with open_browser(tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


SHOWN_JS = """
return Array.from(document.querySelectorAll('#probes section.probe')).map(s => ({
  id: s.dataset.probeId,
  category: s.dataset.category,
  rows: Array.from(s.querySelectorAll('.model-row')).map(r => ({
    model: r.dataset.model,
    conditions: Array.from(r.querySelectorAll('article.cell')).map(c => c.dataset.condition),
  })),
}));
"""
SET_JS = """
const [id, value] = arguments;
const el = document.getElementById(id);
if (el.type === 'checkbox') el.checked = value; else el.value = value;
el.dispatchEvent(new Event(el.tagName === 'SELECT' || el.type === 'checkbox' ? 'change' : 'input',
  {bubbles: true}));
"""


def open_page(browser: Browser, path: Path) -> None:
    """Navigate to ``path`` and wait until the viewer has decoded its data and rendered
    (``body[data-ready]``); the wait only bounds a hang, nothing asserts on its length."""
    browser.call("POST", "/url", {"url": path.as_uri()})
    deadline = time.monotonic() + 120
    while True:
        ready = browser.js("return document.body.dataset.ready || '';")
        if ready:
            assert ready == "1", browser.js("return document.getElementById('probes').textContent")
            return
        assert time.monotonic() < deadline, "the viewer never finished loading"
        time.sleep(0.05)


def test_viewer_in_chromium(browser: Browser, tmp_path: Path) -> None:
    records = sample_records()
    out = tmp_path / "viewer.html"
    render_viewer(records, {"conditions": {"baseline": 2.0}}, out, title="Demo", scorer="lek-v2")
    open_page(browser, out)

    shown = browser.js(SHOWN_JS)
    assert [p["id"] for p in shown] == ["P1_WATER", "P2_CLINIC", "P10_ARCHIVE"]
    for probe in shown:
        assert [r["model"] for r in probe["rows"]] == list(MODELS)
        for row in probe["rows"]:
            assert row["conditions"] == list(CONDITIONS)
    columns = browser.js(
        "return Array.from(document.querySelectorAll('.model-row')[0]"
        ".querySelectorAll('article.cell')).map(c => c.getBoundingClientRect().top);"
    )
    assert len(set(columns)) == 1, "condition columns are not side by side"

    marks = browser.js(
        "return Array.from(document.querySelectorAll('mark[data-signals~=\"nuance\"]'))"
        ".map(m => m.textContent.toLowerCase());"
    )
    assert "tension" in marks and "however" in marks
    assert browser.js("return document.querySelectorAll('#legend input').length;") == 11

    hostile = browser.js(
        'const c = document.querySelector(\'[data-probe-id="P1_WATER"] '
        '[data-model="alpha-1b"] article[data-condition="prefix:lek"] pre.resp\');'
        "return [c.textContent, c.querySelectorAll('script, b, img').length];"
    )
    assert hostile == [HOSTILE, 0]
    failed = browser.js(
        'const c = document.querySelector(\'[data-probe-id="P10_ARCHIVE"] '
        '[data-model="beta-7b"] article[data-condition="baseline"]\');'
        "return [c.className, c.querySelector('.error').textContent, "
        "Array.from(c.parentNode.querySelectorAll('.delta')).map(d => d.textContent)];"
    )
    assert "failed" in failed[0] and "backend timeout" in failed[1]
    assert failed[2] == ["Δ n/a", "Δ n/a"]

    browser.js(SET_JS, "f-domain", "health")
    assert [p["id"] for p in browser.js(SHOWN_JS)] == ["P2_CLINIC"]
    browser.js(SET_JS, "f-model", "1")
    shown = browser.js(SHOWN_JS)
    assert [p["id"] for p in shown] == ["P2_CLINIC"]
    assert [r["model"] for r in shown[0]["rows"]] == ["beta-7b"]
    browser.js(SET_JS, "f-domain", "")
    shown = browser.js(SHOWN_JS)
    assert len(shown) == 3 and all([r["model"] for r in p["rows"]] == ["beta-7b"] for p in shown)
    browser.js(SET_JS, "f-model", "")

    deltas = _deltas(records)
    worst = min(deltas, key=lambda k: deltas[k])
    best = max(deltas, key=lambda k: deltas[k])
    ranked = sorted(deltas.values())
    assert ranked[0] < ranked[1] and ranked[-2] < ranked[-1] and worst[0] != best[0]
    browser.js(SET_JS, "f-sort", "regression")
    assert browser.js(SHOWN_JS)[0]["id"] == worst[0] == "P2_CLINIC"
    browser.js(SET_JS, "f-sort", "rescue")
    assert browser.js(SHOWN_JS)[0]["id"] == best[0]
    browser.js(SET_JS, "f-sort", "regression")
    browser.js(SET_JS, "f-reg", True)
    browser.js(SET_JS, "f-reg-x", str(deltas[worst] + 0.01))
    assert [p["id"] for p in browser.js(SHOWN_JS)] == ["P2_CLINIC"]
    browser.js(SET_JS, "f-reg", False)
    browser.js(SET_JS, "f-search", "village WELL")
    assert [p["id"] for p in browser.js(SHOWN_JS)] == ["P1_WATER"]
    browser.js(SET_JS, "f-search", "p10_")
    assert [p["id"] for p in browser.js(SHOWN_JS)] == ["P10_ARCHIVE"]

    watch = browser.js("return window.__lem;")
    assert watch == {"errors": [], "dialogs": []}
    logs = browser.call("POST", "/se/log", {"type": "browser"})
    assert [e for e in logs if e.get("level") == "SEVERE"] == []


def test_empty_and_odd_inputs(tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    render_viewer([], {}, out, title="nothing", scorer="lek-v2")
    assert "0 probes" in out.read_text("utf-8")
    odd = ResponseRecord("m\udcff", "P", "c", "p", "kernel", "x\udcff y", "s", float("nan"), {})
    summary: dict[str, Any] = {1: "x", "nested": {"a": {"kernel": {"mean": "n/a"}}}}
    render_viewer([odd], summary, out, title="odd", scorer="s")
    page = out.read_text("utf-8")
    assert "m\\udcff" in page  # the label in the static table, as its escape
    sample = decode_payload(page)["probes"][0]["rows"][0]["c"][0]["samples"][0]
    assert sample["e"] == "non-finite score nan" and sample["t"] == "x\udcff y"


# ---- numbers, highlighting, tables and scale in the browser ------------------------------

AWKWARD = [
    1.085,
    -0.275,
    2.675,
    0.005,
    -0.005,
    0.0,
    -0.0,
    1e-7,
    -1e-7,
    0.125,
    5.655,
    6.204999999999999,
    -3.4250000000000007,
    123456789.125,
    1.5e20,
    1e21,
    2.5e-7,
    99.995,
    -99.995,
    0.999,
    9.995,
    float("inf"),
    float("-inf"),
]


def test_script_rounds_numbers_as_numfmt(browser: Browser, tmp_path: Path) -> None:
    out = tmp_path / "viewer.html"
    render_viewer(sample_records(), {}, out, title="numbers", scorer="lek-v2")
    open_page(browser, out)
    rng = __import__("random").Random(7)
    values = AWKWARD + [round(rng.uniform(-50, 50), rng.randint(1, 5)) for _ in range(300)]
    values += [rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-12, 3) for _ in range(300)]
    finite = [v for v in values if abs(v) != float("inf")]
    got = browser.js(
        "const f = window.lemViewer.format;"
        "const out = arguments[0].map(v => [1, 2, 3].map(p => [f(v, p, false), f(v, p, true)]));"
        "return [out, [f(Infinity, 2, false), f(-Infinity, 2, true), f(NaN, 2, true),"
        " f(null, 2, false)]];",
        finite,
    )
    want = [[[fmt_fixed(v, p), fmt_fixed(v, p, signed=True)] for p in (1, 2, 3)] for v in finite]
    assert got[0] == want
    specials = [float("inf"), float("-inf"), float("nan"), None]
    assert got[1] == [fmt_fixed(v, 2, signed=k in (1, 2)) for k, v in enumerate(specials)]
    assert got[0][AWKWARD.index(1.085)][1] == ["1.09", "+1.09"]
    assert got[0][AWKWARD.index(-0.275)][1] == ["-0.28", "-0.28"]


def _utf16_spans(text: str) -> list[list[int]]:
    order = {name: k for k, name in enumerate(HIGHLIGHT)}
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return sorted([offsets[s], offsets[e], order[name]] for s, e, name in matched_spans(text))


HIGHLIGHT = [s for s in LEK_V2_SIGNALS if s not in NOT_COUNTED]


def test_script_highlights_exactly_the_scorers_matches(browser: Browser, tmp_path: Path) -> None:
    out = tmp_path / "viewer.html"
    render_viewer(sample_records(), {}, out, title="spans", scorer="lek-v2")
    open_page(browser, out)
    texts = [v["text"] for v in VECTORS] + [
        "😀 There is tension here, however. Ünïcödé Ñame met Zoë in 2019; 42,5 people?",
        "xAlice met Bob. Carol left. 😀Dave and 😀 Eve.",
        "Certainly! I feel — *really* — that consent matters...\n\n> quoted | piped",
        "e.g. for example, think of the archive as a vault, from their perspective",
    ]
    got = browser.js(
        "return arguments[0].map(t => { const f = window.lemViewer.spans(t); const o = [];"
        " for (let k = 0; k < f.length; k += 3) o.push([f[k], f[k + 1], f[k + 2]]);"
        " return o.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]); });",
        texts,
    )
    assert got == [_utf16_spans(t) for t in texts]
    assert sum(len(g) for g in got) > 1000


def _big_records(models: int, probes: int, conditions: list[str]) -> list[ResponseRecord]:
    """models × probes × conditions responses of about 2,000 characters (deterministic)."""
    base = [v["text"] for v in VECTORS if len(v["text"]) > 40]
    records = []
    for m in range(models):
        for p in range(probes):
            for c, cond in enumerate(conditions):
                k = (m * 31 + p * 7 + c) % len(base)
                text = f"Model {m} on probe {p}, {cond}. " + " ".join(
                    base[(k + j) % len(base)] for j in range(12)
                )
                text = text[:2000]
                failed = (m + p + c) % 97 == 0
                records.append(
                    ResponseRecord(
                        model=f"org/very-long-model-name-{m:03d}-instruct-v0.{m % 4}-4bit-ngs",
                        probe_id=f"P{p:02d}_PROBE",
                        category=f"domain{p % 5}",
                        prompt=f"Prompt of probe {p}",
                        condition=cond,
                        response=text,
                        scorer="lek-v2",
                        score=None if failed else float((m * 7 + p * 3 + c * 5) % 41 - 10),
                        signals={} if failed else {"nuance": float(c), "questioning": 1.0},
                        error="timeout" if failed else None,
                    )
                )
    return records


def test_ten_thousand_responses_render_and_filter(browser: Browser, tmp_path: Path) -> None:
    records = _big_records(167, 20, ["baseline", "json", "txt"])
    assert len(records) == 10_020
    out = tmp_path / "big.html"
    render_viewer(records, {}, out, title="big", scorer="lek-v2")
    open_page(browser, out)
    meta = browser.js("return document.querySelector('.meta').textContent;")
    assert "10020 responses" in meta and "167 models" in meta
    # one page of rows is in the DOM, not 10,000 responses, and it is highlighted
    shown = browser.js(SHOWN_JS)
    assert [p["id"] for p in shown] == ["P00_PROBE"] and len(shown[0]["rows"]) == 50
    assert browser.js("return document.querySelectorAll('pre.resp').length;") == 3 * 50
    assert browser.js("return document.querySelectorAll('pre.resp mark').length;") > 50
    # the per-model table: one row per model, filterable, a click picks the model
    assert browser.js("return document.querySelectorAll('#model-table tbody tr').length;") == 167
    browser.js(SET_JS, "f-model-table", "name-042")
    visible = browser.js(
        "return Array.from(document.querySelectorAll('#model-table tbody tr'))"
        ".filter(tr => !tr.hidden).map(tr => tr.querySelector('button').textContent);"
    )
    assert visible == ["org/very-long-model-name-042-instruct-v0.2-4bit-ngs"]
    browser.js("document.querySelector('#model-table tbody tr:not([hidden]) button').click();")
    assert browser.js("return document.getElementById('f-model').value;") == "42"
    shown = browser.js(SHOWN_JS)
    assert len(shown) == 20
    assert {r["model"] for p in shown for r in p["rows"]} == {visible[0]}
    assert browser.js("return document.querySelector('#model-table tr.sel').dataset.model;") == "42"
    # the probe filters still work on the full data
    browser.js(SET_JS, "f-search", "p07_")
    assert [p["id"] for p in browser.js(SHOWN_JS)] == ["P07_PROBE"]
    browser.js(SET_JS, "f-model", "")
    shown = browser.js(SHOWN_JS)
    assert [p["id"] for p in shown] == ["P07_PROBE"] and len(shown[0]["rows"]) == 50
    pages = browser.js("return document.querySelector('#pager-top .page-info').textContent;")
    assert pages.startswith("page 1 / 4 · 1 probe · 167 model rows")
    browser.js("document.querySelectorAll('#pager-top button')[1].click();")
    shown = browser.js(SHOWN_JS)
    assert len(shown[0]["rows"]) == 50 and shown[0]["rows"][0]["model"].endswith(
        "050-instruct-v0.2-4bit-ngs"
    )
    assert browser.js("return window.__lem;") == {"errors": [], "dialogs": []}


def test_six_conditions_fit_side_by_side_at_1400px(browser: Browser, tmp_path: Path) -> None:
    conds = [
        "baseline",
        "system:lek-json",
        "system:lek-txt",
        "prefix:lek",
        "sandwich:lek",
        "suffix",
    ]
    records = _big_records(2, 3, conds)
    out = tmp_path / "six.html"
    render_viewer(records, {}, out, title="six", scorer="lek-v2")
    open_page(browser, out)
    assert browser.js("return window.innerWidth;") <= 1400
    problems = browser.js(
        """
        const bad = [];
        for (const row of document.querySelectorAll('.model-row')) {
          const cells = Array.from(row.querySelectorAll('article.cell'));
          if (cells.length !== 6) bad.push('cells ' + cells.length);
          const tops = new Set(cells.map(c => Math.round(c.getBoundingClientRect().top)));
          if (tops.size !== 1) bad.push('not side by side');
          cells.forEach((c, i) => {
            const r = c.getBoundingClientRect();
            if (i && r.left < cells[i - 1].getBoundingClientRect().right) bad.push('overlap');
            for (const e of c.querySelectorAll('.sig > span, .sig .nm, .sig .v, .cell-head')) {
              const q = e.getBoundingClientRect();
              if (q.left < r.left - 0.5 || q.right > r.right + 0.5) bad.push('out ' + e.className);
            }
            const sig = c.querySelector('.sig');
            if (sig && sig.scrollWidth > sig.clientWidth + 1) bad.push('sig overflows');
            for (const v of c.querySelectorAll('.sig .v')) {
              const a = v.getBoundingClientRect(), n = v.previousSibling.getBoundingClientRect();
              if (a.top < n.bottom - 1 && a.left < n.right - 0.5) bad.push('value over name');
            }
          });
        }
        return bad;
        """
    )
    assert problems == []
    assert browser.js("return document.querySelectorAll('.model-row').length;") == 6


def test_viewer_table_prints_the_reports_strings(tmp_path: Path) -> None:
    """The viewer's per-model means and deltas are report.md's strings (one rounding rule)."""
    from tests.test_report import build_golden

    res = build_golden(tmp_path / "r", plots=False)
    page = (tmp_path / "r" / "report.html").read_text("utf-8")
    md = (tmp_path / "r" / "report.md").read_text("utf-8")
    overview = md.split("## Overview", 1)[1].split("\n\n")[2].splitlines()[2:]
    table = page.split('id="model-table"', 1)[1].split("</table>", 1)[0]
    rows = {
        html_row.split('class="pick" data-model="', 1)[1]
        .split(">", 1)[1]
        .split("<", 1)[0]: re.findall(r"<td[^>]*>([^<]*)</td>", html_row)
        for html_row in table.split("<tr data-model=")[1:]
    }
    assert len(overview) == len(rows) == 3
    conditions = res.summary["conditions"]
    for line in overview:
        cells = [c.strip() for c in line.strip("|").split("|")]
        model = cells[0]
        got = rows[model]
        # report.md: model, probes, baseline [CI], then per condition mean, n, Δ [CI], p
        assert got[2] == cells[2].split(" ")[0]
        for k, _cond in enumerate(conditions[1:]):
            mean, n, delta = cells[3 + 4 * k], cells[4 + 4 * k], cells[5 + 4 * k].split(" ")[0]
            assert got[3 + 3 * k] == mean
            assert got[4 + 3 * k] == f"{delta} ({n})"
