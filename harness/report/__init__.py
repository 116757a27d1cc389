"""Reports: stored results and model cards -> per-language leaderboards (HTML and Markdown).

The flow is one way: :mod:`~harness.report.view` turns results into a page model
(:mod:`~harness.report.page`), checking claims with :mod:`~harness.report.claims`;
:mod:`~harness.report.charts` draws its SVG charts; :mod:`~harness.report.render` fills the
Jinja templates. :mod:`~harness.report.words` holds every wording (warnings, error kinds,
languages, numbers); :mod:`~harness.report.compare` is ``harness compare``. Reports never load
a model: they read result files and cards only.
"""

from harness.report.claims import CLAIM_DATASET_TASKS, claim_dataset_matches, normalize_split
from harness.report.lang import normalize_language, report_languages, run_language
from harness.report.render import build_reports, load_specs, report_command
from harness.report.view import build_page
from harness.report.words import ERROR_KIND_TEXT, WARNING_TEXT, hub_url, md_escape

__all__ = [
    "CLAIM_DATASET_TASKS",
    "ERROR_KIND_TEXT",
    "WARNING_TEXT",
    "build_page",
    "build_reports",
    "claim_dataset_matches",
    "hub_url",
    "load_specs",
    "md_escape",
    "normalize_language",
    "normalize_split",
    "report_command",
    "report_languages",
    "run_language",
]
