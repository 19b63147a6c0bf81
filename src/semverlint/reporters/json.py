"""The JSON report: schema_version 1, stable key order, one trailing newline."""

from __future__ import annotations

import json

from semverlint.report import Report, report_to_dict


def render(report: Report, color: bool = False) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"
