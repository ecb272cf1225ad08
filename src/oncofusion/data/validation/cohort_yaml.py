"""Reading ``cohort.yaml`` into a :class:`~oncofusion.data.schema.CohortSchema`.

YAML syntax errors, duplicate keys, unknown keys (with a did-you-mean) and invalid values
become one :class:`~oncofusion.errors.CohortError` naming the key and its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from oncofusion.data.schema import CohortSchema
from oncofusion.data.validation._checks import did_you_mean
from oncofusion.errors import CohortError

__all__ = ["SCHEMA_FILE", "read_schema"]

SCHEMA_FILE = "cohort.yaml"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise CohortError(
                    f"key '{key}' is given twice (line {key_node.start_mark.line + 1}).",
                    file=SCHEMA_FILE,
                    fix="keep one entry for the key.",
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_schema(root: Path) -> CohortSchema:
    """Parse and check ``root / "cohort.yaml"``.

    Parameters
    ----------
    root
        The cohort directory.

    Returns
    -------
    CohortSchema
        The parsed schema.

    Raises
    ------
    CohortError
        When the file is missing, is not valid YAML, is not a mapping, or breaks the schema
        (unknown key, missing key, invalid value); the message gives the key and its line.
    """
    path = root / SCHEMA_FILE
    if not path.is_file():
        alt = root / "cohort.yml"
        hint = " (found 'cohort.yml': rename it to cohort.yaml)" if alt.is_file() else ""
        raise CohortError(
            f"the cohort directory '{root}' has no cohort.yaml{hint}.",
            file=SCHEMA_FILE,
            fix="add cohort.yaml with at least name, time_unit and clinical; see docs/cohort-format.md.",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CohortError(
            f"the file cannot be read: {e}.", file=SCHEMA_FILE, fix="save it as UTF-8 text."
        ) from e
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CohortError(
            f"the file is not valid YAML{where}: {e.problem or e.context}.",
            file=SCHEMA_FILE,
            fix="correct the syntax there: 'key: value' pairs, indentation with spaces, list items as '- name' lines.",
        ) from e
    except yaml.YAMLError as e:
        raise CohortError(
            f"the file is not valid YAML: {e}.", file=SCHEMA_FILE, fix="correct the syntax."
        ) from e
    if not isinstance(data, dict):
        got = "empty" if data is None else f"a {type(data).__name__}"
        raise CohortError(
            f"the file must be a mapping of keys to values, but it is {got}.",
            file=SCHEMA_FILE,
            fix="write 'key: value' lines: at least name, time_unit and clinical.",
        )
    try:
        return CohortSchema.model_validate(data)
    except ValidationError as e:
        raise _schema_error(e, node) from e


def _schema_error(e: ValidationError, node: yaml.Node | None) -> CohortError:
    """The first pydantic error in the words of the YAML file (key path, line, fix)."""
    err = e.errors()[0]
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    line = _line_of(node, loc)
    at = f" (line {line})" if line else ""
    kind = err["type"]
    if kind == "extra_forbidden":
        parent_model = _model_at(loc[:-1])
        allowed = list(parent_model.model_fields) if parent_model else []
        where = f" under '{'.'.join(map(str, loc[:-1]))}'" if len(loc) > 1 else ""
        return CohortError(
            f"unknown key '{loc[-1]}'{where}{at}.{did_you_mean(str(loc[-1]), allowed)}",
            file=SCHEMA_FILE,
            fix=f"use only the keys {', '.join(allowed)}; see docs/cohort-format.md.",
        )
    if kind == "missing":
        return CohortError(
            f"the required key '{key}' is missing.",
            file=SCHEMA_FILE,
            fix=f"add '{loc[-1]}:' to cohort.yaml; see docs/cohort-format.md.",
        )
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return CohortError(
            f"key '{key}'{at} must be one of {expected}, got '{err['input']}'.",
            file=SCHEMA_FILE,
            fix=f"set {key} to one of {expected}.",
        )
    msg = str(err["msg"]).removeprefix("Value error, ")
    target = f"key '{key}'{at}" if key else "the file"
    return CohortError(
        f"{target} is invalid: {msg}.",
        file=SCHEMA_FILE,
        fix=_VALUE_FIXES.get(str(loc[0]) if loc else "", _VALUE_FIXES[""]),
    )


_VALUE_FIXES = {
    "horizons": "give horizons as a YAML list of increasing positive numbers in time_unit, "
    "e.g. 'horizons: [3, 6, 12]'.",
    "name": 'give the cohort a name in quotes, e.g. name: "crlm-2024".',
    "": "write names as text and column lists as YAML lists of names, each name once and "
    "not in two roles; see docs/cohort-format.md.",
}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that the key path ``loc`` points into (for the allowed keys)."""
    model: type[BaseModel] = CohortSchema
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node that ``loc`` reaches."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if getattr(k, "value", None) == str(part)]
            if not match:
                break
            line = match[0][0].start_mark.line + 1
            node = match[0][1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
