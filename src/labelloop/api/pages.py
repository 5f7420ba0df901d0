"""Server-rendered viewer pages. All user text is escaped; no inline script or style."""

from __future__ import annotations

from html import escape
from typing import Any

from labelloop.core import Item, Medium, Project

__all__ = ["index_page", "project_page"]


def _layout(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} · labelloop</title>"
        '<link rel=stylesheet href="/static/app.css"></head>'
        f'<body><header><a href="/">labelloop</a></header><main>{body}</main></body></html>'
    )


def index_page(projects: list[tuple[Project, dict[str, int]]]) -> str:
    """The project list."""
    rows = "".join(
        f'<tr><td><a href="/projects/{p.id}">{escape(p.name)}</a></td>'
        f"<td>{escape(', '.join(m.kind.value for m in p.schema.media))}</td>"
        f"<td>{c['items']}</td><td>{c['suggestions']}</td><td>{c['annotations']}</td><td>{c['reviews']}</td></tr>"
        for p, c in projects
    )
    body = (
        "<h1>Projects</h1><table><thead><tr><th>name</th><th>media</th><th>items</th><th>suggestions</th>"
        f"<th>annotations</th><th>reviews</th></tr></thead><tbody>{rows}</tbody></table>"
        "<p class=note>Read-only viewer. Labelling and review views arrive with the web app.</p>"
    )
    return _layout("Projects", body)


def _media_cell(item: Item) -> str:
    parts = []
    for name, ref in item.data.items():
        label = f"<span class=field>{escape(name)}</span> "
        if ref.kind == Medium.TEXT:
            parts.append(label + f"<span class=text>{escape((ref.text or '')[:400])}</span>")
        elif ref.kind == Medium.IMAGE:
            parts.append(label + f'<img loading=lazy alt="{escape(name)}" src="/api/media/{ref.sha256}">')
        elif ref.kind == Medium.AUDIO:
            parts.append(label + f'<audio controls preload=none src="/api/media/{ref.sha256}"></audio>')
        else:
            pts = ref.meta.get("points", "?")
            parts.append(label + f"point cloud, {escape(str(pts))} points ({escape(str(ref.meta.get('format', '')))})")
    return "<br>".join(parts)


def _labels_cell(latest: dict[str, Any]) -> str:
    out = []
    for kind in ("annotation", "suggestion"):
        rec = latest.get(kind)
        if rec is not None:
            regions = ", ".join(
                escape(str(r.get("label") or ",".join(r.get("labels", [])) or r.get("control"))) for r in rec.value[:12]
            )
            out.append(f"<span class={kind}>{kind}: {regions}</span>")
    return "<br>".join(out)


def project_page(project: Project, items: list[Item], latest: dict[int, Any], limit: int) -> str:
    """One page of a project's items."""
    rows = "".join(
        f"<tr><td>{it.id}</td><td>{escape(it.key or '')}</td><td>{_media_cell(it)}</td>"
        f"<td>{_labels_cell(latest.get(it.id, {}))}</td></tr>"
        for it in items
    )
    more = f'<p><a href="/projects/{project.id}?after={items[-1].id}">next page</a></p>' if len(items) == limit else ""
    body = (
        f"<h1>{escape(project.name)}</h1><table><thead><tr><th>id</th><th>key</th><th>media</th>"
        f"<th>labels</th></tr></thead><tbody>{rows}</tbody></table>{more}"
    )
    return _layout(project.name, body)
