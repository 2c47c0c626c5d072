"""The viewer's Jinja2 templates (src/lem/report/templates/): escaping of every label in
the static header, the CSP hash of the packaged script, the package data, streaming."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import importlib.resources
import random
import re
import tomllib
from pathlib import Path

from lem.report import html as viewer
from lem.report.html import render_viewer, viewer_html
from lem.report.model import ResponseRecord

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_FILES = ("viewer.html.j2", "viewer.css", "viewer.js")
SCRIPT = "<script>alert(1)</script>"
EVIL = f'{SCRIPT} "dq" \'sq\' & x" onmouseover="alert(2)'
EVIL_ESCAPED = (
    "&lt;script&gt;alert(1)&lt;/script&gt; &quot;dq&quot; &#x27;sq&#x27; &amp; "
    "x&quot; onmouseover=&quot;alert(2)"
)


def _packaged(name: str) -> bytes:
    return (importlib.resources.files("lem.report") / "templates" / name).read_bytes()


def _records(model: str = "m", condition: str = "txt") -> list[ResponseRecord]:
    return [
        ResponseRecord(model, "P1", "cat", "prompt", cond, "text", "s", score, {"a": 1.0})
        for cond, score in (("baseline", 1.0), (condition, 2.0))
    ]


def _header(page: str) -> str:
    return page.split('<header class="top">', 1)[1].split("</header>", 1)[0]


def test_labels_from_the_data_are_escaped_in_the_header() -> None:
    summary = {EVIL: EVIL, "n": 3}
    page = viewer_html(_records(EVIL, EVIL), summary, title=EVIL, scorer=EVIL)
    head = page.split("<body>", 1)[0]
    header = _header(page)
    assert f"<title>{EVIL_ESCAPED}</title>" in head
    assert f"<h1>{EVIL_ESCAPED}</h1>" in header
    assert f"scorer <b>{EVIL_ESCAPED}</b>" in header
    assert f'<th colspan="3">{EVIL_ESCAPED}</th>' in header  # the condition
    assert f'data-model="0">{EVIL_ESCAPED}</button>' in header  # the model
    assert f"{EVIL_ESCAPED}: <b>{EVIL_ESCAPED}</b> · n: <b>3</b>" in header  # summary field
    # nothing of the labels survives as markup anywhere in the page
    assert SCRIPT not in page
    assert "onmouseover=" not in page.replace("onmouseover=&quot;", "")
    assert page.count("<script") == 2 and page.count("</script>") == 2


def test_the_csp_allows_exactly_the_packaged_script() -> None:
    js = _packaged("viewer.js")
    digest = base64.b64encode(hashlib.sha256(js).digest()).decode()
    page = viewer_html(_records(), {}, title="t", scorer="s")
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert csp is not None
    assert csp.group(1) == (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    # the script element holds the file's bytes exactly (what the browser hashes)
    script = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    assert script.encode("utf-8") == js
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert style.startswith(_packaged("viewer.css").decode("utf-8"))


def test_templates_are_package_data_found_through_importlib_resources() -> None:
    folder = importlib.resources.files("lem.report") / "templates"
    for name in TEMPLATE_FILES:
        assert (folder / name).is_file(), name
    # the same files a wheel carries: pyproject's package-data for "lem" names them
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["lem"]
    for name in TEMPLATE_FILES:
        assert any(fnmatch.fnmatch(f"report/templates/{name}", p) for p in patterns), name
    assert "Jinja2>=3.1" in config["project"]["dependencies"]
    template = viewer._template()
    assert template is viewer._template()  # compiled once per process
    assert template.environment.autoescape is True
    assert template.filename is not None
    assert Path(template.filename).read_bytes() == _packaged("viewer.html.j2")


def test_the_streamed_file_is_the_page_string(tmp_path: Path) -> None:
    """A payload far over write_page's chunk size (incompressible responses): the file
    written chunk by chunk is viewer_html's string, byte for byte."""
    rng = random.Random(3)
    records = [
        ResponseRecord(
            f"model-{m}",
            f"P{p}",
            "cat",
            "prompt",
            cond,
            "".join(rng.choice("abcdefghijklmnopqrstuvwxyz \u00e9\u4e2d") for _ in range(3000)),
            "lek-v2",
            float(rng.randint(-10, 10)),
            {},
        )
        for m in range(3)
        for p in range(40)
        for cond in ("baseline", "txt")
    ]
    out = tmp_path / "v.html"
    render_viewer(records, {"n": 1}, out, title="big", scorer="lek-v2")
    page = viewer_html(records, {"n": 1}, title="big", scorer="lek-v2")
    payload = page.split('data-encoding="deflate-base64">', 1)[1].split("</script>", 1)[0]
    assert len(payload) > 4 * viewer._CHUNK
    assert out.read_bytes() == page.encode("utf-8")
