"""The card's YAML front matter: split it off, load it safely, report duplicates and non-mappings."""

from __future__ import annotations

import re
from typing import Any

import yaml

from harness.card.evidence import Evidence, clip

MAX_FRONT_MATTER_CHARS = 1_000_000

_BOOL_TAG = "tag:yaml.org,2002:bool"
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CardLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader that records duplicate keys and reads yes/no/on/off as strings (YAML 1.2 style)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                try:
                    k = self.construct_object(key_node, deep=True)
                    hash(k)
                except Exception:
                    continue
                if k in seen:
                    self.duplicates.append((str(k), key_node.start_mark.line + 1))
                seen.add(k)
        return super().construct_mapping(node, deep=deep)


CardLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != _BOOL_TAG] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CardLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def split_front_matter(text: str) -> tuple[str | None, str, str | None]:
    """(front matter, body, problem): the YAML between the first two '---' lines, and the rest."""
    lines = text.split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or lines[i].strip() != "---":
        return None, text, "no YAML front matter (the card does not start with a '---' line)"
    for j in range(i + 1, len(lines)):
        if lines[j].strip() == "---":
            return "\n".join(lines[i + 1 : j]), "\n".join(lines[j + 1 :]), None
    return None, "\n".join(lines[i + 1 :]), "YAML front matter is never closed (no second '---' line)"


def load_yaml(fm: str, ev: Evidence) -> dict:
    """The front matter as a mapping; {} with an error (or a warning when empty) otherwise."""
    if len(fm) > MAX_FRONT_MATTER_CHARS:
        ev.errors.append(f"YAML front matter is larger than {MAX_FRONT_MATTER_CHARS} characters")
        return {}
    loader = CardLoader(fm)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at front-matter line {mark.line + 1}" if mark else ""
        ev.errors.append(f"malformed YAML front matter: {exc.problem or exc.context}{where}")
        return {}
    except Exception as exc:
        ev.errors.append(f"malformed YAML front matter: {clip(str(exc) or type(exc).__name__, 150)}")
        return {}
    finally:
        loader.dispose()
    for k, line in loader.duplicates[:20]:
        ev.warn(
            "yaml-duplicate-key",
            f"YAML key {clip(k, 40)!r} appears more than once (again at front-matter line {line}); "
            "the last one wins",
        )
    if data is None:
        ev.warn("empty-front-matter", "the YAML front matter is empty")
        return {}
    if not isinstance(data, dict):
        ev.errors.append(f"YAML front matter is a {type(data).__name__}, not a mapping")
        return {}
    return data


def str_list(value: Any) -> tuple[list[str], list[Any]]:
    """Strings from a str-or-list YAML value, plus the items that were not strings."""
    items = value if isinstance(value, list) else [value]
    good, bad = [], []
    for item in items[:1000]:
        (good if isinstance(item, str) and item.strip() else bad).append(
            item.strip() if isinstance(item, str) else item
        )
    return good, bad
