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
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(targets) == len(page.images)
    assert all((tmp_path / "rep" / t).is_file() for t in targets)
