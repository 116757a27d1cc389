"""The card against the model's own files: the files fill unknowns and win, with a warning each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.card.evidence import LABEL, MISMATCH_CODE, clip, fmt, same
from harness.model_files import model_file_facts
from harness.records import Finding, ModelSpec, Sourced


def crosscheck(spec: ModelSpec, model_dir: Path) -> ModelSpec:
    """A new spec with the model files' facts: they fill unknowns and win over the card, with warnings."""
    try:
        facts, notes, extra = model_file_facts(Path(model_dir))
    except Exception as exc:  # never a traceback for a broken folder
        note = Finding(
            code="model-files-corrupt", message=f"cannot read the model folder: {clip(str(exc), 100)}"
        )
        return spec.model_copy(update={"warnings": [*spec.warnings, note]})
    warnings = list(spec.warnings)
    seen = {(w.code, w.message) for w in warnings}

    def note(finding: Finding) -> None:
        if (finding.code, finding.message) not in seen:
            warnings.append(finding)
            seen.add((finding.code, finding.message))

    for finding in notes:
        note(finding)
    update: dict[str, Any] = {}
    for field, (value, source) in facts.items():
        current: Sourced = getattr(spec, field)
        if current.value is None:
            update[field] = Sourced(value=value, source=source)
        elif not same(field, current.value, value):
            note(
                Finding(
                    code=MISMATCH_CODE.get(field, f"{field}-mismatch"),
                    message=f"the card gives {LABEL.get(field, field)} {fmt(current.value)} "
                    f"({current.source}) but the model files say {fmt(value)} ({source}); "
                    "using the files' value",
                )
            )
            update[field] = Sourced(value=value, source=source)
    max_seq = update.get("max_seq_length", spec.max_seq_length).value
    positions = extra.get("max_position_embeddings")
    if isinstance(max_seq, int) and isinstance(positions, int) and max_seq > positions:
        note(
            Finding(
                code="max-seq-length-exceeds-positions",
                message=f"max_seq_length {max_seq} exceeds the model's max_position_embeddings {positions}",
            )
        )
    update["warnings"] = warnings
    return spec.model_copy(update=update)
