"""A self-contained HTML page for a QC report: inline SVG plots, no scripts, no network.

Every piece of text that came from users (project, annotator, label, message, fix) is
escaped; a Content-Security-Policy forbids anything but inline styles, so even a missed
escape could not load or run anything.

Example:
    >>> page = render_html({"project": "<b>x</b>", "summary": {"items": 0}})
    >>> "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    True
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;
vertical-align:top}th{background:#f5f5f5}.num{text-align:right;font-variant-numeric:tabular-nums}
.error{color:#b00020}.warning{color:#a65e00}.info{color:#555}.muted{color:#777}
.grid{display:flex;flex-wrap:wrap;gap:1.5rem}pre{background:#f7f7f7;padding:.5rem;overflow:auto;max-height:30rem}
code{font-size:12px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return '<span class="muted">n/a</span>'
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return _e(x)


def _bars(title: str, data: Mapping[str, float], *, limit: int = 20, max_value: float | None = None) -> str:
    """A horizontal bar chart as inline SVG."""
    rows = [(str(k), float(v)) for k, v in list(data.items())[:limit] if v is not None and not math.isnan(float(v))]
    if not rows:
        return f'<figure><figcaption>{_e(title)}</figcaption><p class="muted">no data</p></figure>'
    top = max_value if max_value is not None else max(v for _, v in rows) or 1.0
    bar_h, label_w, width = 18, 170, 260
    h = bar_h * len(rows) + 6
    parts = [f'<svg role="img" width="{label_w + width + 70}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for i, (k, v) in enumerate(rows):
        y = i * bar_h + 3
        w = 0 if top <= 0 else max(1.0, width * v / top)
        label = k if len(k) <= 26 else k[:25] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 4}" fill="#4a78b5"><title>{_e(k)}: '
            f"{_e(round(v, 4))}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="12">{_e(round(v, 3))}</text>'
        )
    parts.append("</svg>")
    return f"<figure><figcaption>{_e(title)}</figcaption>{''.join(parts)}</figure>"


def _heatmap(title: str, labels: Sequence[str], matrix: Sequence[Sequence[int]], reference: str) -> str:
    """A confusion matrix (rows: reference, columns: human) as an inline SVG heat map."""
    n = len(labels)
    if n == 0:
        return ""
    cell, pad = 34, 110
    top = max((v for row in matrix for v in row), default=0) or 1
    size = pad + cell * n + 10
    parts = [f'<svg role="img" width="{size}" height="{size}" xmlns="http://www.w3.org/2000/svg">']
    for i, lab in enumerate(labels):
        short = lab if len(lab) <= 14 else lab[:13] + "…"
        y = pad + i * cell + cell / 2 + 4
        parts.append(f'<text x="{pad - 4}" y="{y}" text-anchor="end" font-size="11">{_e(short)}</text>')
        x = pad + i * cell + cell / 2
        parts.append(
            f'<text x="{x}" y="{pad - 6}" font-size="11" transform="rotate(-45 {x} {pad - 6})">{_e(short)}</text>'
        )
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            shade = int(255 - 200 * v / top)
            fill = f"rgb({shade},255,{shade})" if i == j else f"rgb(255,{shade},{shade})"
            parts.append(
                f'<rect x="{pad + j * cell}" y="{pad + i * cell}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{fill}"><title>{_e(reference)} {_e(labels[i])} → human {_e(labels[j])}: {v}</title></rect>'
                f'<text x="{pad + j * cell + cell / 2}" y="{pad + i * cell + cell / 2 + 4}" text-anchor="middle" '
                f'font-size="11">{v}</text>'
            )
    parts.append("</svg>")
    cap = f"{title} (rows: {reference}, columns: human)"
    return f"<figure><figcaption>{_e(cap)}</figcaption>{''.join(parts)}</figure>"


def _sparkline(points: Sequence[Sequence[Any]]) -> str:
    vals = [float(p[1]) for p in points if p[1] is not None]
    if len(vals) < 2:
        return ""
    w, h = 120, 28
    step = w / (len(vals) - 1)
    coords = " ".join(f"{i * step:.1f},{h - 2 - (h - 4) * v:.1f}" for i, v in enumerate(vals))
    return (
        f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><polyline fill="none" '
        f'stroke="#4a78b5" stroke-width="1.5" points="{coords}"/></svg>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(report: Mapping[str, Any]) -> str:
    s = report.get("summary") or {}
    rows = [[_e(k), _num(v)] for k, v in s.items() if k != "reason"]
    out = _table(["", "value"], rows)
    if s.get("reason"):
        out += f'<p class="muted">{_e(s["reason"])}</p>'
    run = report.get("last_run")
    if run:
        out += (
            f'<p class="muted">last QC run #{_e(run.get("id"))} ({_e(run.get("mode"))}) at '
            f"{_e(run.get('created_at'))}: {_e(run.get('items_checked'))} items checked, "
            f"{_e(run.get('findings_new'))} new findings, {_e(run.get('findings_resolved'))} resolved</p>"
        )
    return out


def _errors(d: Mapping[str, Any]) -> str:
    if not d or not d.get("total"):
        return '<p class="muted">no open findings</p>'
    figs = [
        _bars(f"findings by {name}", d.get(f"by_{name}", {}))
        for name in ("control", "annotator", "source", "slice", "rule", "severity")
    ]
    rates = d.get("rates") or {}
    figs += [_bars(f"findings per label by {name}", rates.get(name, {})) for name in ("annotator", "source")]
    return f'<div class="grid">{"".join(figs)}</div>'


def _annotators(a: Mapping[str, Any]) -> str:
    if not a:
        return '<p class="muted">no annotators</p>'
    gold = {k: v.get("overall_gold") for k, v in a.items()}
    cons = {k: v.get("overall_consensus") for k, v in a.items()}
    figs = _bars("accuracy against gold", gold, max_value=1.0) + _bars(
        "accuracy against consensus", cons, max_value=1.0
    )
    rows = []
    for name, v in a.items():
        per = "; ".join(f"{_e(k)} {_num(x)}" for k, x in (v.get("gold_accuracy") or {}).items())
        learned = "; ".join(
            f"{_e(c)}/{_e(label)} {_num(x.get('accuracy'))} (n={_num(x.get('seen'))})"
            for c, labels in (v.get("skill_by_label") or {}).items()
            for label, x in labels.items()
        )
        rows.append(
            [
                _e(name),
                _num(v.get("items")),
                _num(v.get("gold_items")),
                per or '<span class="muted">n/a</span>',
                learned or '<span class="muted">n/a</span>',
                _num(v.get("overall_consensus")),
                _num(v.get("median_lead_time_s"), 1),
                _num(v.get("drift_delta")),
                _sparkline(v.get("drift") or []),
                _e("; ".join(v.get("reasons") or [])),
            ]
        )
    headers = ["annotator", "items", "gold items", "gold accuracy by label type", "accuracy by label (gold + review)",
               "consensus", "median s/item", "drift Δ", "drift", "notes"]  # fmt: skip
    return f'<div class="grid">{figs}</div>' + _table(headers, rows)


def _agreement(a: Mapping[str, Any]) -> str:
    if not a:
        return '<p class="muted">no controls</p>'
    rows = []
    for name, v in a.items():
        if "krippendorff_alpha" in v:
            cells = [v["krippendorff_alpha"], v["fleiss_kappa"], v["percent"]]
            reasons = "; ".join(sorted({c["reason"] for c in cells if c.get("reason")}))
            rows.append([_e(name), _e(v["kind"]), *(_num(c.get("value")) for c in cells), "", _e(reasons)])
        else:
            rows.append(
                [_e(name), _e(v.get("kind")), "", "", "", _num(v.get("mean_pair_f1")), _e(v.get("reason") or "")]
            )
    return _table(["control", "kind", "Krippendorff α", "Fleiss κ", "percent", "pair F1", "notes"], rows)


def _confusion(c: Mapping[str, Any]) -> str:
    figs = []
    for name, v in c.items():
        if v.get("n"):
            figs.append(
                _heatmap(f"{name}: accuracy {_num(v.get('accuracy'))}", v["labels"], v["matrix"], v["reference"])
            )
        else:
            figs.append(f'<p class="muted">{_e(name)}: {_e(v.get("reason"))}</p>')
    return f'<div class="grid">{"".join(figs)}</div>' if figs else '<p class="muted">no classification controls</p>'


def _findings(fs: Sequence[Mapping[str, Any]]) -> str:
    if not fs:
        return '<p class="muted">no open findings</p>'
    rows = [
        [
            _e(f.get("item_id")),
            _e(f.get("region_id") or ""),
            _e(f.get("rule_id")),
            f'<span class="{_e(f.get("severity"))}">{_e(f.get("severity"))}</span>',
            _e(f.get("label_source")),
            _e(f.get("annotator") or ""),
            _e(f.get("message")),
            f"<code>{_e(orjson.dumps(f.get('fix')).decode())}</code>" if f.get("fix") else "",
        ]
        for f in fs
    ]
    return _table(["item", "region", "rule", "severity", "source", "annotator", "message", "suggested fix"], rows)


def _sections(sections: Mapping[str, Any]) -> str:
    out = []
    for name, data in sections.items():
        body = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode()
        out.append(f"<h2>{_e(name)}</h2><pre>{_e(body)}</pre>")
    return "".join(out)


def render_html(report: Mapping[str, Any]) -> str:
    """Render a report dict (from ``qc_report``) as one HTML page with inline SVG plots."""
    title = f"QC report — {report.get('project', '')}"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">generated {_e(report.get("generated_at", ""))}</p>',
        "<h2>Summary</h2>",
        _summary(report),
        "<h2>Error distribution</h2>",
        _errors(report.get("error_distribution") or {}),
        "<h2>Annotators</h2>",
        _annotators(report.get("annotators") or {}),
        "<h2>Agreement</h2>",
        _agreement(report.get("agreement") or {}),
        "<h2>Confusion matrices</h2>",
        _confusion(report.get("confusion") or {}),
        "<h2>Open findings</h2>",
        _findings(report.get("findings") or []),
        _sections(report.get("sections") or {}),
    ]
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )
