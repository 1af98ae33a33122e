"""What docs/hooks.py and mkdocs.yml decide for the offline site, checked without a build.

The built site itself is checked by ``test_offline_site.py`` (which needs ``make docs``); these
run everywhere: MathJax comes from the installed package and mkdocs.yml loads it from the site,
no script comes from the network, and the benchmark page takes ``reports/latest`` first, then
the committed quick report, then the placeholder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.docs.test_api_reference import ROOT, _hooks


def mkdocs_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def test_mathjax_is_installed_and_loaded_from_the_site() -> None:
    hooks = _hooks()
    root = hooks.mathjax_root()
    assert (root / hooks.MATHJAX_BUNDLE).stat().st_size > 1_000_000  # the whole TeX-to-SVG bundle
    assert (root / "input" / "tex" / "extensions").is_dir()  # what \require and autoload fetch
    config = mkdocs_config()
    scripts = [*config["extra_javascript"], *config["extra"]["polyfills"]]
    assert f"{hooks.MATHJAX_SITE}/{hooks.MATHJAX_BUNDLE}" in scripts
    assert all("://" not in str(script) for script in scripts)
    ours = [s for s in scripts if not s.startswith(hooks.MATHJAX_SITE)]  # the rest is in docs/
    assert ours and all((ROOT / "docs" / script).is_file() for script in ours)


def test_site_is_built_for_file_urls() -> None:
    config = mkdocs_config()
    assert config["use_directory_urls"] is False
    assert config["theme"]["font"] is False  # no web font service
    assert "offline" in config["plugins"]


def test_report_folder_prefers_the_latest_then_the_committed_report(tmp_path: Path) -> None:
    hooks = _hooks()
    assert hooks.report_folder(tmp_path) is None  # the placeholder page
    committed = tmp_path / hooks.COMMITTED_REPORT
    committed.mkdir(parents=True)
    (committed / "report.md").write_text("# r\n")
    assert hooks.report_folder(tmp_path) == committed
    latest = tmp_path / hooks.REPORT
    latest.mkdir(parents=True)
    assert hooks.report_folder(tmp_path) == committed  # a folder without report.md is no report
    (latest / "report.md").write_text("# r\n")
    assert hooks.report_folder(tmp_path) == latest


def test_the_committed_report_is_there_and_small() -> None:
    hooks = _hooks()
    folder = ROOT / hooks.COMMITTED_REPORT
    text = (folder / "report.md").read_text(encoding="utf-8")
    images = [line for line in text.splitlines() if line.startswith("![")]
    assert len(images) >= 3
    for line in images:  # ![name](relative/path.png)
        assert (folder / line[line.index("](") + 2 : -1]).is_file(), line
    kept = [folder / "report.md", *folder.rglob("*.png")]  # what git keeps: text and plots
    assert sum(p.stat().st_size for p in kept) < 2_000_000


def test_note_goes_after_the_title() -> None:
    hooks = _hooks()
    assert hooks._with_note("# T\n\ntext\n", "NOTE\n") == "# T\n\nNOTE\n\n\ntext\n"
    assert hooks._with_note("text\n", "NOTE\n") == "\nNOTE\n\ntext\n"
