"""Loads a plain SQL project: semverlint.yml beside DDL scripts and bare SELECT files."""

from __future__ import annotations

import bisect
import hashlib
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from semverlint.config import Config
from semverlint.discover import CONFIG_MARKER
from semverlint.interface import Column, Diagnostic, Interface, Model, Project, fold
from semverlint.loaders.dbt import LFS_MESSAGE, LFS_POINTER
from semverlint.yamlio import decode

MAX_FILE_BYTES = 2 * 1024 * 1024
_DDL = re.compile(r"^\s*(create|alter|drop)\b", re.IGNORECASE | re.MULTILINE)
_LINE = re.compile(r"\bline (\d+)\b")


@dataclass(frozen=True)
class Script:
    """All DDL files of the project as one script, applied in path order, with a way back to
    files."""

    text: str
    starts: tuple[int, ...]  # first line of each file in the script, 1-based
    paths: tuple[str, ...]

    def locate(self, line: int | None) -> tuple[str | None, int | None]:
        if line is None or not self.paths:
            return None, None
        index = max(bisect.bisect_right(self.starts, line) - 1, 0)
        return self.paths[index], line - self.starts[index] + 1


def build_script(texts: Mapping[str, str]) -> Script:
    parts: list[str] = []
    starts: list[int] = []
    line = 1
    for path in sorted(texts):
        text = texts[path].rstrip()
        # A file's last statement may lack its semicolon; it must not run into the next file's.
        text = text + "\n;\n" if not text.endswith(";") else text + "\n"
        starts.append(line)
        parts.append(text)
        line += text.count("\n")
    return Script("".join(parts), tuple(starts), tuple(sorted(texts)))


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def load_sql_project(
    project_dir: str, files: Mapping[str, bytes], config: Config
) -> tuple[Interface, tuple[Diagnostic, ...]]:
    """Tables and views from CREATE/ALTER/DROP scripts; a bare SELECT file is a model named
    after it."""
    from semverlint.facts import query_from
    from semverlint.modelsql import Analysed, reconcile
    from semverlint.sql import SqlFailure, analyse_query, parse_ddl_script

    diagnostics: list[Diagnostic] = []
    texts: dict[str, str] = {}
    for path in sorted(p for p in files if p.endswith(".sql")):
        raw = files[path]
        if raw.startswith(LFS_POINTER):
            diagnostics.append(Diagnostic("warning", LFS_MESSAGE, path))
            continue
        if b"\x00" in raw[:8192] or len(raw) > MAX_FILE_BYTES:
            diagnostics.append(
                Diagnostic("warning", "skipped SQL file: binary or larger than 2 MiB", path)
            )
            continue
        texts[path] = decode(raw)
    ddl = {p: t for p, t in texts.items() if _DDL.search(t)}
    script = build_script(ddl)
    relations, ddl_diagnostics = parse_ddl_script(script.text, config.dialect) if ddl else ((), ())
    for message in ddl_diagnostics:
        match = _LINE.search(message)
        where, at = script.locate(int(match.group(1)) if match else None)
        diagnostics.append(Diagnostic("warning", message, where, at))
    models: dict[str, Model] = {}
    for relation in relations:
        where, line = script.locate(relation.line)
        columns = tuple(
            Column(
                name=c.name,
                data_type=c.data_type,
                not_null=c.not_null or c.primary_key,
                unique=c.unique,
                primary_key=c.primary_key,
                checks=c.checks,
                relationships=(c.references.lower(),) if c.references else (),
                quoted=c.quoted,
                declared=True,
                line=script.locate(c.line)[1] if c.line else line,
                expression=(_expression(relation.query, c.name)),
            )
            for c in relation.columns
        )
        query = relation.query
        models[fold(relation.name)] = Model(
            name=relation.name,
            resource=relation.kind if relation.kind != "materialized_view" else "view",
            sql_path=where,
            line=line,
            access="public",
            materialized=relation.kind,
            columns=columns,
            columns_closed=True,
            primary_key=relation.primary_key,
            unique_keys=relation.unique_keys,
            grain=query.grain if query else None,
            logic=query.logic if query else (),
            query_digest=_digest(query.canonical) if query else None,
            sql_digest=_digest(query.canonical) if query else None,
            analysed=True,
        )
    for path, text in texts.items():
        if path in ddl:
            continue
        name = posixpath.splitext(posixpath.basename(path))[0]
        upstream = {key: tuple(c.name for c in m.columns) for key, m in models.items()}
        model = Model(name=name, sql_path=path, line=1, access="public", sql_digest=_digest(text))
        result = analyse_query(text, config.dialect, upstream)
        if isinstance(result, SqlFailure):
            diagnostics.append(
                Diagnostic("error", f"{name}: SQL not analysed: {result.reason}", path, None, name)
            )
            models[fold(name)] = model
            continue
        diagnostics.extend(
            Diagnostic("warning", f"{name}: {m}", path, None, name) for m in result.diagnostics
        )
        models[fold(name)], _ = reconcile(model, Analysed(query_from(result)))
    name = config.name or (posixpath.basename(project_dir) if project_dir != "." else "project")
    marker = CONFIG_MARKER if project_dir == "." else f"{project_dir}/{CONFIG_MARKER}"
    interface = Interface(
        project=Project(
            name=name,
            path=project_dir,
            kind="sql",
            version=config.version,
            dialect=config.dialect,
            version_file=marker,
            version_line=config.version_line,
        ),
        models=tuple(sorted(models.values(), key=lambda m: m.key)),
        diagnostics=tuple(diagnostics),
    )
    return interface, ()


def _expression(query: object, name: str) -> str | None:
    columns = getattr(query, "columns", ())
    return next((c.expression for c in columns if fold(c.name) == fold(name)), None)
