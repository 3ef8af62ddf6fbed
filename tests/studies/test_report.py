"""qaxai report: one self-contained HTML page (parsed here: every figure embedded as a PNG
that decodes, the tables, the findings with their numbers, the provenance) and Markdown whose
figure links resolve."""

import base64
import re
from html.parser import HTMLParser

from studies.cli import main
from studies.store import load_study


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.headings, self.paragraphs = [], 0, [], []
        self._in = None
        self.links = []

    @classmethod
    def images_of(cls, text: str) -> list[str]:
        page = cls()
        page.feed(text)
        return page.images

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "table":
            self.tables += 1
        elif tag in ("h2", "p"):
            self._in = tag
            (self.headings if tag == "h2" else self.paragraphs).append("")
        if tag in ("link", "script") or (tag == "a" and "href" in attrs):
            self.links.append(attrs)

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "h2":
            self.headings[-1] += data
        elif self._in == "p":
            self.paragraphs[-1] += data


def test_report_page_and_markdown(tiny_study, tmp_path, capsys):
    _, path, _ = tiny_study
    assert main(["report", str(path), "--out", str(tmp_path / "rep")]) == 0
    page = _Page()
    page.feed((tmp_path / "rep" / "report.html").read_text(encoding="utf-8"))
    assert page.links == []  # nothing outside the page: no stylesheet, script or link
    assert len(page.images) >= 5
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.tables >= 3
    assert {"Findings: the anneal", "Figures", "Provenance"} <= set(page.headings)
    study = load_study(path)
    gaps = sorted(p["group_attrs"]["spectral"]["delta_min"]
                  for p in study.of_kind("problem").values() if "spectral" in p["group_attrs"])
    gap_sentence = next(p for p in page.paragraphs if "minimum gap" in p)
    assert f"over {len(gaps)} problems".lower() in gap_sentence.lower()
    assert f"{min(gaps):.3g}" in gap_sentence and f"{max(gaps):.3g}" in gap_sentence
    assert any("T_boundary within" in p for p in page.paragraphs)  # the T_99 finding
    assert any("Bhattacharyya" in p for p in page.paragraphs)
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    # the provenance names the CPU: a trained model's last bits, so its problems, follow it
    assert study.attrs["cpu"] and f"({study.attrs['cpu']})" in md
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(targets) == len(page.images)
    assert all((tmp_path / "rep" / t).is_file() for t in targets)


def test_results_document_states_each_study_with_its_numbers(tiny_study, tmp_path):
    import numpy as np

    from studies._layout import XAI, read_group
    from studies.results import write_results

    _, path, _ = tiny_study
    out = write_results([path], tmp_path / "docs" / "results.md")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Results\n")
    assert "## tiny" in text and "### The anneal" in text
    assert "- `builtin:quick`:" in text  # shipped configs without a file are named
    xai_line = next(line for line in text.splitlines() if line.startswith("- `builtin:xai-digits`"))
    assert "qaxai" not in xai_line  # its description stops before the commands in its comment
    assert "qaxai run CONFIG.toml" in text  # the tiny config is not a shipped one
    assert f"; {len(load_study(path).instances)} instances complete, 0 failed." in text
    study = load_study(path)
    (xai_id, inst), = study.of_kind("xai").items()
    assert f"### Explanations ({xai_id})" in text
    d = read_group(inst["data"], XAI)
    rows = {(str(w), str(m), str(s), str(k)): v for w, m, s, k, v in zip(
        d["table/weights"], d["table/method"], d["table/space"], d["table/metric"],
        d["table/value"])}
    qubo = rows[("trained", "qubo-paper", "heatmap", "silhouette")]
    grad = rows[("trained", "gradcam", "heatmap", "silhouette")]
    sentence = next(line for line in text.splitlines()
                    if line.startswith("Heatmap silhouette") and "qubo-paper against gradcam:"
                    in line)
    assert f"{qubo:.3g} [" in sentence and f"against {grad:.3g} [" in sentence
    header = next(line for line in text.splitlines() if line.startswith("| method |"))
    assert "Bhattacharyya ↓" in header and "deletion AUC ↓" in header
    bc = rows[("trained", "qubo-paper", "selection", "Bhattacharyya off-diag")]
    row = next(line for line in text.splitlines() if line.startswith("| qubo-paper |"))
    assert row.split("|")[2].strip().startswith(f"{bc:.3g} [")
    assert np.isfinite(bc)


def test_versus_says_which_is_better_only_when_the_intervals_are_apart():
    from studies.report import _versus

    a = {"value": 0.2, "low": 0.15, "high": 0.25}
    b = {"value": 0.5, "low": 0.4, "high": 0.6}
    assert _versus(a, b, lower_is_better=True).endswith("better, the intervals apart")
    assert _versus(a, b, lower_is_better=False).endswith("worse, the intervals apart")
    c = {"value": 0.3, "low": 0.2, "high": 0.45}
    assert _versus(a, c, lower_is_better=True).endswith("the intervals overlap")


_BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def test_report_opens_in_a_real_browser_with_every_figure_shown(tiny_study, tmp_path):
    """Headless Chromium loads the page and decodes every embedded figure (skipped where no
    Chromium is installed: Debian's package ``chromium`` provides one)."""
    import shutil
    import subprocess

    import pytest

    browser = next((b for b in map(shutil.which, _BROWSERS) if b), None)
    if browser is None:
        pytest.skip("no Chromium on this machine")
    _, path, _ = tiny_study
    main(["report", str(path), "--out", str(tmp_path / "rep")])
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    # a copy of the page reports, once loaded, how many of its images the browser decoded
    probe = ('<script>addEventListener("load", () => { const im = [...document.images]; '
             'document.body.setAttribute("data-shown", im.filter(i => i.complete && '
             'i.naturalWidth > 100).length + "/" + im.length); });</script></body>')
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe), encoding="utf-8")
    out = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=10000", "--dump-dom",
                          (tmp_path / "probe.html").as_uri()],
                         capture_output=True, text=True, timeout=120)
    shown = re.search(r'data-shown="(\d+)/(\d+)"', out.stdout)
    assert shown, out.stderr[-2000:]
    assert int(shown.group(2)) == len(_Page.images_of(page)) >= 5
    assert shown.group(1) == shown.group(2)
