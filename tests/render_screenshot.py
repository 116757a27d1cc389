"""Render the demo report and screenshot it with headless Chromium (for the README).

    .venv/bin/python tests/render_screenshot.py [--out docs/report-screenshot.png] [--lang de]

Builds the fixture results (``demo=True``: realistic models only) into a temporary folder,
writes the reports there, and saves a screenshot of one language page. Needs Chromium.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from fixtures.results.builder import build_results, build_specs  # noqa: E402

from harness.config import resolve  # noqa: E402
from harness.report import build_reports, load_specs  # noqa: E402

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TESTS.parent / "docs" / "report-screenshot.png")
    parser.add_argument("--lang", default="de")
    parser.add_argument("--size", default="1280,1900")
    parser.add_argument("--keep", type=Path, help="also copy the rendered reports here")
    parser.add_argument("--results", type=Path, help="report these stored results (default: the fixtures)")
    parser.add_argument("--registry", type=Path, default=TESTS.parent / "registry", help="with --results")
    parser.add_argument("--data-dir", type=Path, help="with --results (default: as `harness report` does)")
    parser.add_argument("--only", default="", help="show the summary and this section only (e.g. cost)")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("error: Chromium is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.results:
            # the data folder as `harness report` resolves it (option > environment > harness.toml):
            # the task audits and the sample-row evidence of zero-shot read it
            data_dir = resolve({"data_dir": args.data_dir}).existing_dir("data_dir")
            specs = load_specs(args.registry, data_dir)
            build_reports(args.results, specs, root / "reports", data_dir=data_dir)
        else:
            build_reports(
                build_results(root / "results", demo=True), build_specs(demo=True), root / "reports"
            )
        page = root / "reports" / f"{args.lang}.html"
        if args.only:  # the page with its other sections hidden (headless Chromium does not scroll to #id)
            hide = f"<style>section.card:not(#summary):not(#{args.only}){{display:none}}</style></head>"
            html = page.read_text(encoding="utf-8").replace("</head>", hide, 1)
            page = page.with_name(f"{args.lang}-{args.only}.html")
            page.write_text(html, encoding="utf-8")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={root / 'profile'}",
                f"--screenshot={args.out.resolve()}",
                f"--window-size={args.size}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        if args.keep:
            shutil.copytree(root / "reports", args.keep, dirs_exist_ok=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
