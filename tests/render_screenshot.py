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

from harness.report import build_reports  # noqa: E402

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
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("error: Chromium is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results = build_results(root / "results", demo=True)
        build_reports(results, build_specs(demo=True), root / "reports")
        page = root / "reports" / f"{args.lang}.html"
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
