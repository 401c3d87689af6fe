"""Reading scenario YAML files: ``extends``, variants, ``--set`` overrides, CSV tables.

Every key read keeps the place it came from (``file:line``, a CSV row, or the
``--set`` option that set it), so that a validation error names the place a
person has to edit. Data flows one way::

    YAML files -> merged dictionary -> variant -> overrides -> CSV tables -> Scenario
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ValidationError

from .errors import Issue, RuleViolation, ScenarioError
from .scenario import Scenario
from .tables import read_csv_rows, read_text_file

Path_ = tuple[Any, ...]

#: Scenario keys that may hold a CSV file path in place of a list of rows.
TABLE_KEYS: tuple[Path_, ...] = (("network", "sites"), ("bands", "table"), ("power", "coefficients"))


@dataclass(frozen=True)
class Place:
    """Where a key was set: a file and line, or a command-line override."""

    label: str
    base_dir: Path

    def __str__(self) -> str:
        return self.label


@dataclass
class SourceMap:
    """The place each key path of a scenario dictionary was set."""

    places: dict[Path_, Place] = field(default_factory=dict)

    def find(self, path: Path_) -> Place | None:
        """The place of ``path`` or of its closest ancestor that has one."""
        for end in range(len(path), -1, -1):
            place = self.places.get(tuple(path[:end]))
            if place is not None:
                return place
        return None

    def update(self, other: SourceMap, prefix: Path_ = ()) -> None:
        for path, place in other.places.items():
            self.places[prefix + path] = place


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and how it was obtained."""

    scenario: Scenario
    source: Path | None
    variant: str | None = None
    overrides: tuple[str, ...] = ()

    def provenance(self) -> dict[str, str]:
        """Text attributes describing the origin, for NetCDF files."""
        return {
            "scenario_source": str(self.source) if self.source else "",
            "scenario_variant": self.variant or "",
            "scenario_overrides": " ".join(self.overrides),
        }


# ---------------------------------------------------------------- YAML files


#: Largest scenario YAML file read, bytes (a scenario is a few kB; tables go in CSV files).
MAX_YAML_BYTES = 1_000_000
#: Deepest nesting of mappings and lists in a scenario file.
MAX_YAML_NESTING = 32
#: Most values a scenario file may hold once its aliases are expanded.
MAX_YAML_VALUES = 100_000
#: Longest chain of files that ``extends`` one another.
MAX_EXTENDS_DEPTH = 16
#: Explicit tags a scenario may carry: the plain scalar and collection ones.
PLAIN_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
}
_RESOLVER = yaml.resolver.Resolver()


def _check_yaml_events(text: str, path: Path) -> None:
    """Refuse what a scenario file has no use for, before anything is built from it.

    Walks the parser's events (the parser keeps its own stack, so deep nesting
    cannot exhaust Python's): explicit tags other than the plain ones, an
    explicit scalar tag whose text is not of that type, nesting deeper than
    :data:`MAX_YAML_NESTING`, an alias inside the node it names (a structure
    that contains itself) and more than :data:`MAX_YAML_VALUES` values once
    aliases are expanded (an alias bomb).
    """
    stack: list[list[Any]] = []  # [anchor, expanded values] of each open collection
    sizes: dict[str, int] = {}
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent, yaml.CollectionEndEvent)):
            continue
        where = f"{path}:{event.start_mark.line + 1}"
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in PLAIN_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise ScenarioError(Issue(where, "", f"YAML tag {shown} is not allowed: write the plain value"))
        if isinstance(event, yaml.ScalarEvent) and tag in PLAIN_TAGS:
            _check_tagged_scalar(event, tag, where)
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_YAML_NESTING:
                raise ScenarioError(Issue(where, "", f"nested more than {MAX_YAML_NESTING} levels deep"))
            stack.append([event.anchor, 1])
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in stack):
                raise ScenarioError(Issue(where, "", f"alias *{event.anchor} lies inside the node it names (a structure that contains itself)"))
            if event.anchor not in sizes:
                raise ScenarioError(Issue(where, "", f"alias *{event.anchor} names no anchor defined before it"))
            size = sizes[event.anchor]
        else:
            size = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        if stack:
            stack[-1][1] += size
            if stack[-1][1] > MAX_YAML_VALUES:
                raise ScenarioError(Issue(where, "", f"more than {MAX_YAML_VALUES:,} values once aliases are expanded"))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check_tagged_scalar(event: yaml.ScalarEvent, tag: str, where: str) -> None:
    """An explicit ``!!int``/``!!float``/``!!bool``/``!!null`` must hold text of that type."""
    kind = tag.rsplit(":", 1)[1]
    if kind in ("str", "map", "seq"):
        return
    implicit = _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False)).rsplit(":", 1)[1]
    if implicit == kind or (kind == "float" and implicit == "int"):
        return
    raise ScenarioError(Issue(where, "", f"{event.value!r} is not a YAML {kind} (tag !!{kind})"))


def _read_yaml(path: Path) -> tuple[dict[str, Any], SourceMap]:
    """Parse one YAML file into a dictionary and the line of every key."""
    text = read_text_file(path, "scenario file", MAX_YAML_BYTES)
    try:
        _check_yaml_events(text, path)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ScenarioError(Issue(f"{path}{line}", "", f"YAML syntax error: {problem}")) from None
    except yaml.YAMLError as exc:  # e.g. a character YAML does not allow
        raise ScenarioError(Issue(str(path), "", f"YAML error: {_first_line(exc)}")) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(Issue(f"{path}:1", "", f"a scenario must be a mapping of keys, not a {type(data).__name__}"))
    sources = SourceMap()
    issues: list[Issue] = []
    if root is not None:
        _record_places(root, (), path, sources, issues)
    if issues:
        raise ScenarioError(issues)
    return data, sources


def _record_places(node: yaml.Node, path: Path_, file: Path, sources: SourceMap, issues: list[Issue]) -> None:
    base = file.parent
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = _key_of(key_node)
            label = f"{file}:{key_node.start_mark.line + 1}"
            if key in seen:
                issues.append(Issue(label, _dotted(path + (key,)), "duplicate key (a key may appear once per mapping)"))
            seen.add(key)
            sources.places[path + (key,)] = Place(label, base)
            _record_places(value_node, path + (key,), file, sources, issues)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sources.places[path + (index,)] = Place(f"{file}:{item.start_mark.line + 1}", base)
            _record_places(item, path + (index,), file, sources, issues)


def _key_of(node: yaml.Node) -> Any:
    """The Python value of a mapping key node, as ``yaml.safe_load`` builds it."""
    if isinstance(node, yaml.ScalarNode) and not node.tag.endswith(":str"):
        return yaml.safe_load(node.value)
    return node.value if isinstance(node, yaml.ScalarNode) else str(node.value)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Merge ``top`` over ``base``: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_with_parents(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], SourceMap]:
    """Read a scenario file and, recursively, the files it ``extends``."""
    resolved = path.resolve()
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(Issue(str(path), "extends", f"more than {MAX_EXTENDS_DEPTH} files extend one another"))
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ScenarioError(Issue(str(path), "extends", f"files extend each other in a cycle: {cycle}"))
    data, sources = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data, sources
    if not isinstance(parent, str) or not parent or "\0" in parent:
        place = sources.find(("extends",))
        raise ScenarioError(Issue(str(place), "extends", f"= {_format_value(parent)}: must be a file path"))
    parent_path = path.parent / parent
    if not parent_path.exists():
        place = sources.find(("extends",))
        raise ScenarioError(Issue(str(place), "extends", f"= {parent!r}: file not found ({parent_path})"))
    if parent_path.is_dir():
        place = sources.find(("extends",))
        raise ScenarioError(Issue(str(place), "extends", f"= {parent!r}: is a directory, not a scenario file ({parent_path})"))
    parent_data, parent_sources = _read_with_parents(parent_path, (*chain, resolved))
    merged_sources = SourceMap(dict(parent_sources.places))
    merged_sources.update(sources)
    return _deep_merge(parent_data, data), merged_sources


# ---------------------------------------------------------------- variants and overrides


def _apply_variant(data: dict[str, Any], sources: SourceMap, variant: str | None) -> dict[str, Any]:
    variants = data.pop("variants", None) or {}
    if not isinstance(variants, dict):
        place = sources.find(("variants",))
        raise ScenarioError(Issue(str(place) if place else "", "variants", "must be a mapping of variant names to the keys they override"))
    if variant is None:
        return data
    if variant not in variants:
        names = ", ".join(sorted(variants)) if variants else "none are defined"
        raise ScenarioError(Issue("--variant", "variants", f"no variant named {variant!r} (variants: {names})"))
    patch = variants[variant]
    if patch is None:
        return data
    if not isinstance(patch, dict):
        place = sources.find(("variants", variant))
        raise ScenarioError(Issue(str(place), f"variants.{variant}", "a variant must be a mapping of keys to override"))
    prefix = ("variants", variant)
    for path, place in list(sources.places.items()):
        if path[: len(prefix)] == prefix and len(path) > len(prefix):
            sources.places[path[len(prefix):]] = place
    return _deep_merge(data, patch)


def _apply_override(data: dict[str, Any], sources: SourceMap, text: str) -> None:
    label = f"--set {text}"
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(Issue(label, "", "expected KEY=VALUE, for example traffic.load=1.8"))
    try:
        if raw.strip():
            _check_yaml_events(raw, Path(label))
            value = yaml.safe_load(raw)
        else:
            value = None
    except ScenarioError as exc:
        raise ScenarioError([Issue(label, key, i.message) for i in exc.issues]) from None
    except yaml.MarkedYAMLError as exc:
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ScenarioError(Issue(label, key, f"value is not valid YAML: {problem}")) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(Issue(label, key, f"value is not valid YAML: {_first_line(exc)}")) from None
    parts: list[Any] = key.split(".")
    if any(not p for p in parts):
        raise ScenarioError(Issue(label, key, "empty part in the key path"))
    if parts[0] in ("extends", "variants"):
        # both are read from the files before any --set applies: setting them here would do nothing
        use = "name the file's extends in the file itself" if parts[0] == "extends" else "choose a variant with --variant NAME"
        raise ScenarioError(Issue(label, key, f"cannot be set on the command line; {use}"))
    target: Any = data
    for depth, part in enumerate(parts[:-1]):
        if isinstance(target, list) and part.isdigit() and int(part) < len(target):
            parts[depth] = int(part)
            target = target[int(part)]
            continue
        if not isinstance(target, dict):
            raise ScenarioError(Issue(label, key, f"{_dotted(tuple(parts[:depth]))} is not a section with keys"))
        if part not in target:  # a section this option creates: an error about it names the option
            sources.places[tuple(parts[: depth + 1])] = Place(label, Path.cwd())
        target = target.setdefault(part, {})
    last = parts[-1]
    if isinstance(target, list) and last.isdigit() and int(last) < len(target):
        parts[-1] = int(last)
        target[int(last)] = value
    elif isinstance(target, dict):
        target[last] = value
    else:
        raise ScenarioError(Issue(label, key, f"{_dotted(tuple(parts[:-1]))} is not a section with keys"))
    path = tuple(parts)
    for old in [p for p in sources.places if p[: len(path)] == path]:
        del sources.places[old]
    sources.places[path] = Place(label, Path.cwd())


# ---------------------------------------------------------------- tables


def _load_tables(data: dict[str, Any], sources: SourceMap) -> None:
    """Replace CSV paths of table keys by their rows, recording each row's line."""
    for table_path in TABLE_KEYS:
        section = data.get(table_path[0])
        if not isinstance(section, dict):
            continue
        value = section.get(table_path[1])
        if not isinstance(value, str):
            continue
        place = sources.find(table_path)
        base = place.base_dir if place else Path.cwd()
        csv_path = Path(value) if Path(value).is_absolute() else base / value
        try:
            rows, lines = read_csv_rows(csv_path)
        except ScenarioError as exc:
            raise ScenarioError(
                [Issue(str(place) if place else "", _dotted(table_path), f"= {value!r}: {i.message} ({i.where})") for i in exc.issues]
            ) from None
        section[table_path[1]] = rows
        for index, (row, line) in enumerate(zip(rows, lines)):
            row_place = Place(f"{csv_path}:{line}", csv_path.parent)
            sources.places[table_path + (index,)] = row_place
            for column in row:
                sources.places[table_path + (index, column)] = row_place


# ---------------------------------------------------------------- validation errors


def _dotted(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, str) and not part.strip():
            part = repr(part)  # an empty or blank key, shown so it can be seen
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _strip_union_tags(loc: Path_, data: Any) -> Path_:
    """Drop the discriminator tags pydantic inserts in error locations."""
    cleaned: list[Any] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and part not in current and current.get("distribution") == part:
            continue
        cleaned.append(part)
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            current = None
    return tuple(cleaned)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold directly."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _child_annotation(annotation: Any, part: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _child_annotation(typing.get_args(annotation)[0], part)
    models = _models_in(annotation)
    if models:
        for model in models:
            if part in model.model_fields:
                return model.model_fields[part].annotation
        return None
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            child = _child_annotation(arg, part)
            if child is not None:
                return child
        return None
    if origin is list:
        return typing.get_args(annotation)[0]
    if origin is dict:
        return typing.get_args(annotation)[1]
    return None


def valid_keys_at(path: Path_) -> list[str]:
    """The keys the scenario format allows in the mapping at ``path``."""
    annotation: Any = Scenario
    for part in path:
        annotation = _child_annotation(annotation, part)
        if annotation is None:
            return []
    keys: list[str] = []
    for model in _models_in(annotation):
        keys.extend(k for k in model.model_fields if k not in keys)
    return keys


def _format_value(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
    if text.endswith("\n..."):
        text = text[:-4]
    text = " ".join(text.removesuffix("...").split())  # one line, however the value was laid out
    return text if len(text) <= 60 else text[:57] + "..."


#: Member tags pydantic appends to the location of an error in a union of scalar types.
_UNION_MEMBERS = ("bool", "int", "float", "str")


def _one_per_union(errors: list[Any]) -> list[Any]:
    """One error per value of a scalar union (``bool | int | float | str``), not one per member.

    The member that says most is kept: the number's when the value is a number.
    """
    kept: dict[tuple[Any, ...], Any] = {}
    order: list[tuple[Any, ...]] = []
    for error in errors:
        loc = tuple(error["loc"])
        if loc and loc[-1] in _UNION_MEMBERS:
            key = loc[:-1]
            error = {**error, "loc": key, "member": loc[-1]}
        else:
            key = loc
        if key not in kept:
            order.append(key)
            kept[key] = error
        elif error.get("member") == "float" and isinstance(error["input"], (int, float)):
            kept[key] = error
    return [kept[key] for key in order]


def _issues_from(exc: ValidationError, data: dict[str, Any], sources: SourceMap) -> list[Issue]:
    issues: list[Issue] = []
    for error in _one_per_union(exc.errors(include_url=False)):
        loc = _strip_union_tags(tuple(error["loc"]), data)
        kind = error["type"]
        cause = (error.get("ctx") or {}).get("error")
        place = None
        if isinstance(cause, RuleViolation):
            place = _override_breaking(sources, loc, cause)
            loc = loc + cause.subpath
            message = cause.message
        elif kind == "extra_forbidden":
            allowed = valid_keys_at(loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(allowed)}"
            message = f"unknown key; {hint}"
        elif kind == "missing":
            message = "required key is missing"
        else:
            text = error["msg"].removeprefix("Value error, ")
            message = f"= {_format_value(error['input'])}: {text[:1].lower()}{text[1:]}"
        place = place or sources.find(loc)
        issues.append(Issue(str(place) if place else "", _dotted(loc), message))
    return sorted(issues, key=_issue_order)


def _is_override(place: Place | None) -> bool:
    return place is not None and place.label.startswith("--set ")


def _override_breaking(sources: SourceMap, section: Path_, rule: RuleViolation) -> Place | None:
    """The ``--set`` option that broke a cross-field rule, when the key it blames was not set by one.

    A rule raised in the section at ``section`` reads its ``subpath`` and its
    ``involves`` keys; the last override that set one of them (or a key inside
    one) is the change that broke it. None: the blamed key's own place stands.
    """
    if _is_override(sources.find(section + rule.subpath)):
        return None
    keys = [section + rule.subpath, *(section + other for other in rule.involves)]
    found: Place | None = None
    for path, place in sources.places.items():  # in the order the places were set: the last override wins
        if _is_override(place) and any(path[: len(key)] == key or key[: len(path)] == path for key in keys):
            found = place
    return found


def _issue_order(issue: Issue) -> tuple[str, int, str]:
    """Sort issues by file, then line, then key path."""
    file, _, line = issue.where.rpartition(":")
    return (file, int(line), issue.path) if line.isdigit() else (issue.where, 0, issue.path)


# ---------------------------------------------------------------- entry points


def scenario_from_dict(
    data: dict[str, Any], sources: SourceMap | None = None, *, base_dir: Path | None = None
) -> Scenario:
    """Validate a scenario dictionary, raising :class:`ScenarioError` with every issue."""
    sources = sources or SourceMap()
    data = copy.deepcopy(data)
    data.pop("extends", None)
    data.pop("variants", None)
    if base_dir is not None:
        for key in data:
            sources.places.setdefault((key,), Place("", base_dir))
    _load_tables(data, sources)
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir or Path.cwd()})
    except ValidationError as exc:
        raise ScenarioError(_issues_from(exc, data, sources)) from None


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), variant: str | None = None
) -> LoadedScenario:
    """Read, merge and validate a scenario YAML file.

    Parameters
    ----------
    path:
        The scenario file. ``extends: other.yaml`` inside it is read first
        (relative to the file) and merged under it.
    overrides:
        ``KEY=VALUE`` strings, applied last (``traffic.load=1.8``); the value
        is read as YAML.
    variant:
        Name of an entry of the file's ``variants`` mapping to apply before the
        overrides.

    Raises
    ------
    ScenarioError
        With every problem found, each naming its file and line.
    """
    path = Path(path)
    overrides = tuple(overrides)
    data, sources = _read_with_parents(path)
    # a key no file sets (a required section missing everywhere) is reported at the file loaded
    sources.places.setdefault((), Place(str(path), path.parent))
    data = _apply_variant(data, sources, variant)
    for text in overrides:
        _apply_override(data, sources, text)
    scenario = scenario_from_dict(data, sources)
    _check_sweep_values(scenario, data, sources)
    return LoadedScenario(scenario, path, variant, overrides)


def _check_sweep_values(scenario: Scenario, data: dict[str, Any], sources: SourceMap) -> None:
    """Validate every swept value as ``--set KEY=VALUE`` would, pointing at the value in the sweep section.

    Each value is checked on its own (not every combination), so that a key
    that does not exist or a value the key refuses is found by ``msrc
    validate``, before any point runs.
    """
    issues: list[Issue] = []
    for name, dim in scenario.sweep.dimensions.items():
        for k, value in enumerate(dim.values):
            point_data, point_sources = copy.deepcopy(data), SourceMap(dict(sources.places))
            try:
                for override in dim.overrides(k):
                    _apply_override(point_data, point_sources, override)
                scenario_from_dict(point_data, point_sources)
            except ScenarioError as exc:
                for issue in exc.issues:
                    # the value the issue is about: one of ``also``'s, or the dimension's own
                    key, shown = next(((o, v[k]) for o, v in dim.also.items() if issue.path == o.strip()), (dim.key, value))
                    at = ("sweep", "dimensions", name, *(("also", key) if key != dim.key else ("values",)), k)
                    place = sources.find(at) or sources.find(at[:-1])
                    detail = issue.message
                    if issue.path in ("", key):
                        detail = detail.partition(": ")[2] if detail.startswith("= ") else detail
                    else:
                        detail = f"{issue.path}{' ' if detail.startswith('= ') else ': '}{detail}"
                    issues.append(Issue(str(place) if place else "", _dotted(at), f"{key} = {_format_value(shown)}: {detail}"))
    if issues:
        raise ScenarioError(issues)


def variant_names(path: str | Path) -> list[str]:
    """Names of the variants a scenario file (or a file it extends) declares."""
    data, _ = _read_with_parents(Path(path))
    variants = data.get("variants") or {}
    return list(variants) if isinstance(variants, dict) else []


def scenario_to_yaml(scenario: Scenario) -> str:
    """The complete scenario as YAML: every default written out, tables inline.

    The text is self-contained: :func:`scenario_from_yaml` rebuilds the same
    scenario from it, with no file around.
    """
    data = scenario.model_dump(mode="json", exclude={"extends", "variants"})
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def scenario_from_yaml(text: str) -> Scenario:
    """Rebuild a scenario from :func:`scenario_to_yaml` text (e.g. a results file)."""
    return scenario_from_dict(yaml.safe_load(text))
