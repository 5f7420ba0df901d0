"""The demo: real sample data of all four media through every pipeline step that exists.

Steps today: write samples → create projects → import (with gold labels) → desensitise (PII,
faces; provenance log verified) → pre-annotate with
the built-in offline backends → native export → restore into a scratch store and check the
round trip is identical → QC report → routing tiers and quality certificate (simulated people on
the digits source) → web user → signed releases.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelloop.core import Actor
from labelloop.errors import BackendUnavailable, Conflict, PluginError
from labelloop.plugins import PluginManager
from labelloop.services.desensitise import desensitise_demo
from labelloop.services.ingest import import_source
from labelloop.services.native import canonical_export, export_native, restore_native
from labelloop.services.preannotate import preannotate
from labelloop.services.projects import create_project, parse_schema
from labelloop.services.qc_report import qc_demo
from labelloop.services.release_demo import release_demo
from labelloop.services.routing_demo import live_route_demo, routing_demo
from labelloop.services.samples import write_samples
from labelloop.storage import Store

__all__ = ["DemoReport", "run_demo"]

StepFn = Callable[[str, str], None]


@dataclass(slots=True)
class DemoReport:
    """What the demo did: one line per step, and the projects it filled."""

    projects: list[str] = field(default_factory=list)
    steps: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    login: tuple[str, str] | None = None
    start_path: str = "/"


# Rules for the text demo: a small lexicon and gazetteer, the kind a team writes on day one.
TEXT_RULES: dict[str, Any] = {
    "rules": [
        {
            "name": "positive words",
            "kind": "dictionary",
            "control": "sentiment",
            "label": "positive",
            "terms": ["great", "love", "excellent", "fast", "perfect", "好", "很好", "喜欢", "满意"],
        },
        {
            "name": "negative words",
            "kind": "dictionary",
            "control": "sentiment",
            "label": "negative",
            "terms": ["terrible", "broken", "late", "awful", "refund", "差", "坏", "失望", "退货"],
        },
        {
            "name": "places",
            "kind": "dictionary",
            "control": "entities",
            "label": "LOC",
            "terms": ["London", "Paris", "Berlin", "New York", "Tokyo", "北京", "上海", "深圳", "杭州", "广州"],
        },
        {
            "name": "companies",
            "kind": "regex",
            "control": "entities",
            "label": "ORG",
            "pattern": r"\b[A-Z][A-Za-z]+ (?:Inc|Ltd|Corp|GmbH)\b|[\u4e00-\u9fff]{2,6}(?:公司|集团|银行)",
        },
    ]
}

# text.classify: zero-shot descriptions for the demo's sentiment labels (few-shot once gold labels exist)
TEXT_CLASSIFY: dict[str, Any] = {
    "descriptions": {
        "sentiment": {
            "positive": "a happy, satisfied, positive review",
            "negative": "an angry, disappointed, negative complaint",
            "neutral": "a neutral, factual news statement",
        }
    }
}

# The embedded LLM (SmolLM2-135M in-process, the `llm` extra) labels the sentiment of the first
# few texts only: about a second per text on 2 cores, the rest is one command away
DEMO_LLM: dict[str, Any] = {"controls": ["sentiment"]}
DEMO_LLM_ITEMS = 5

# (project, backend, config): every built-in that fits the demo's media
# (image.ocr and multimodal.similarity are left out: the demo's pictures hold no text and its
# captioned project has no alignment control)
DEMO_BACKENDS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("text-demo", "text.rules", TEXT_RULES),
    ("text-demo", "text.classify", TEXT_CLASSIFY),
    ("text-demo", "text.ner", None),
    ("text-demo", "llm", DEMO_LLM),
    ("image-demo", "image.classify", None),
    ("image-demo", "image.faces", None),
    ("audio-demo", "audio.segments", None),
    ("audio-demo", "audio.transcribe", None),
    ("pointcloud-demo", "pointcloud.cuboids", None),
    ("lidar-camera-demo", "pointcloud.cuboids", None),
]


def _preannotate(store: Store, plugins: PluginManager, step: StepFn, report: DemoReport) -> None:
    for project, backend, config in DEMO_BACKENDS:
        limit = DEMO_LLM_ITEMS if backend == "llm" else None
        try:
            r = preannotate(store, project, backend, plugins=plugins, config=config, limit=limit)
        except (BackendUnavailable, PluginError) as exc:  # an extra that is not installed
            step("pre-annotate", f"{project}: {backend} skipped ({exc})")
            continue
        rest = "" if limit is None else f"; the rest: labelloop preannotate {project} --backend {backend}"
        step(
            "pre-annotate",
            f"{project}: {backend} → {r.suggestions} suggestions on {r.todo} items "
            f"({r.skipped} already done, {len(r.errors)} refused{rest})",
        )
        report.problems.extend(f"{project}: {backend}: {e}" for e in r.errors)


def run_demo(
    store: Store, work_dir: Path, *, on_step: StepFn | None = None, plugins: PluginManager | None = None
) -> DemoReport:
    """Build the demo workspace in ``store`` from samples written under ``work_dir``.

    Running it again is safe: projects are reused, already-imported items and already
    pre-annotated items are skipped.
    """
    report = DemoReport()
    actor = Actor.system("demo")

    def step(name: str, detail: str) -> None:
        report.steps.append((name, detail))
        if on_step is not None:
            on_step(name, detail)

    samples_dir = work_dir / "samples"
    if samples_dir.exists():
        shutil.rmtree(samples_dir)
    samples = write_samples(samples_dir)
    step("samples", f"{len(samples.projects)} sample projects written to {samples_dir}")
    for sp in samples.projects:
        schema = parse_schema(sp.schema, source=f"demo schema {sp.name}")
        try:
            create_project(store, sp.name, schema, actor)
            step("project", f"created {sp.name!r} ({', '.join(m.kind.value for m in schema.media)})")
        except Conflict:
            step("project", f"reusing {sp.name!r}")
        r = import_source(store, sp.name, sp.source, actor=actor)
        step(
            "import",
            f"{sp.name}: {r.items} new items, {r.duplicates} already present, {r.annotations} annotations, "
            f"{r.suggestions} suggestions, {len(r.errors)} refused",
        )
        report.problems.extend(f"{sp.name}: {e}" for e in r.errors)
        report.projects.append(sp.name)
    # ---- compliance: desensitise the text and image projects, verify their provenance logs ----
    for line in desensitise_demo(store, report.projects, actor=actor):
        step("desensitise", line)
        if "TAMPERED" in line or "skipped" in line:
            report.problems.append(line)
    # ---- end compliance ----
    _preannotate(store, plugins or PluginManager(), step, report)
    exports = work_dir / "exports"
    for name in report.projects:
        out = exports / name
        if out.exists():
            shutil.rmtree(out)
        ex = export_native(store, name, out)
        step("export", f"{name}: {ex.items} items, {ex.annotations} annotations, {ex.media_files} media files → {out}")
        scratch = Path(tempfile.mkdtemp(prefix="labelloop-roundtrip-"))
        try:
            other = Store.open(None, scratch)
            try:
                restore_native(other, out)
                again = scratch / "again"
                export_native(other, name, again)
                same = canonical_export(out) == canonical_export(again)
            finally:
                other.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        step("round trip", f"{name}: {'identical' if same else 'DIFFERENT'} after export → restore → export")
        if not same:
            report.problems.append(f"{name}: native round trip changed the project")
    # --- QC (services/qc_report.py): gold from the bundled labels, a QC run and an HTML/JSON report per project
    qc_demo(store, report.projects, work_dir / "reports", step)
    # --- routing (services/routing_demo.py): tiers and a quality certificate on the digits source ---
    cert = routing_demo(step, work_dir / "reports")
    live_route_demo(store, step)  # the image project's own suggestions, routed for real
    if cert is not None and cert.threshold is not None and not cert.holds:
        report.problems.append("routing: the certificate does not hold")
    # --- web app: an admin "demo" user (fresh password, printed) in every demo project ---
    _demo_user(store, step, report)
    # ---- releases: a signed release of every demo project, exported and verified (release_demo.py)
    for name, detail in release_demo(store, report.projects, work_dir / "releases"):
        step(name, detail)
        if detail.startswith("PROBLEM"):
            report.problems.append(detail)
    return report


def _demo_user(store: Store, step: StepFn, report: DemoReport) -> None:
    from labelloop.services.accounts import ensure_demo_admin

    with store.read() as tx:
        ids = {p.name: p.id for p in tx.projects.list()}
    password = ensure_demo_admin(store, [ids[n] for n in report.projects if n in ids])
    report.login = ("demo", password)
    first = ids.get(report.projects[0]) if report.projects else None
    report.start_path = f"/#/p/{first}/label" if first else "/"
    step("web user", f"admin 'demo' with password {password} (member of {len(report.projects)} projects)")
