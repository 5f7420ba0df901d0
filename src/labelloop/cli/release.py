"""``labelloop release``: signed, immutable dataset releases: create, list, show, diff, export, verify."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from labelloop.cli._common import (
    LinkMedia,
    NoMedia,
    ZipOut,
    console,
    err_console,
    open_store,
    progress_bar,
    settings,
    zip_target,
)
from labelloop.compliance.signing import TamperDetected, read_public_key, write_public_key
from labelloop.core import Actor
from labelloop.core.releases import Release
from labelloop.errors import InputRejected
from labelloop.formats import takes_option
from labelloop.services.release_export import export_release, verify_release_export
from labelloop.services.releases import (
    AUTO,
    create_release,
    diff_releases,
    iter_lineage,
    list_releases,
    show_release,
    signing_key,
)

app = typer.Typer(help="Signed, immutable dataset releases.", no_args_is_help=True)


def _release_json(r: Release) -> dict[str, Any]:
    return {
        "name": r.name,
        "id": r.id,
        "as_of": r.as_of.isoformat(),
        "items": r.items,
        "labelled": r.labelled,
        "regions": r.regions,
        "merkle_root": r.merkle_root,
        "key_id": r.key_id,
        "quality": r.quality,
        "created_at": r.created_at.isoformat(),
        "created_by": r.created_by,
    }


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    name: Annotated[str, typer.Argument(help="Release name, unique in the project (v1, 2026-11-train).")],
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="Freeze the state at this past time (ISO 8601, UTC if no zone).")
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Parent release (default: the newest release).")
    ] = None,
    no_parent: Annotated[bool, typer.Option("--no-parent", help="Start a new lineage.")] = False,
    quality: Annotated[
        Path | None, typer.Option("--quality-certificate", help="A JSON quality certificate to sign with it.")
    ] = None,
) -> None:
    """Freeze the current label of every item as a signed release.

    Example: ``labelloop release create pets v1``
    """
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    cert: dict[str, Any] | None = None
    if quality is not None:
        try:
            cert = json.loads(quality.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputRejected(str(quality), "a readable JSON object", f"an unreadable file ({exc})") from None
        if not isinstance(cert, dict):
            raise InputRejected(str(quality), "a JSON object", type(cert).__name__)
    store = open_store(ctx)
    try:
        key = signing_key(store, settings(ctx).release_key)
        r = create_release(
            store,
            project,
            name,
            Actor.user(getpass.getuser()),
            as_of=as_of,
            parent=None if no_parent else (parent or AUTO),
            quality=cert,
            key=key,
        )
    finally:
        store.close()
    console.print(
        f"release {r.name!r}: {r.items} items, {r.labelled} labelled, {r.regions} regions; "
        f"Merkle root {r.merkle_root}; signed by key {str(r.key_id)[:16]}"
    )


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """List a project's releases, oldest first.

    Example: ``labelloop release list pets``
    """
    store = open_store(ctx)
    try:
        releases = list_releases(store, project)
    finally:
        store.close()
    if as_json:
        for r in releases:
            console.print_json(orjson.dumps(_release_json(r)).decode())
        return
    table = Table("name", "as of", "items", "labelled", "regions", "root", "by")
    for r in releases:
        table.add_row(
            r.name, r.as_of.isoformat(timespec="seconds"), str(r.items), str(r.labelled), str(r.regions),
            str(r.merkle_root)[:16], r.created_by,
        )  # fmt: skip
    console.print(table)


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    name: Annotated[str, typer.Argument(help="Release name.")],
) -> None:
    """Show a release (JSON): counts, classes, parent, and whether its signature holds.

    Example: ``labelloop release show pets v1``
    """
    store = open_store(ctx)
    try:
        key_file = settings(ctx).release_key
        info = show_release(store, project, name, public_key=read_public_key(key_file) if key_file else None)
    finally:
        store.close()
    out = _release_json(info.release) | {
        "parent": None if info.parent is None else {"name": info.parent.name, "merkle_root": info.parent.merkle_root},
        "signature_ok": info.signature_ok,
        "classes": info.classes,
    }
    console.print_json(orjson.dumps(out).decode())


@app.command("diff")
def diff_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    a: Annotated[str, typer.Argument(help="The older release.")],
    b: Annotated[str, typer.Argument(help="The newer release.")],
    rows: Annotated[int, typer.Option("--rows", min=0, help="How many differing items to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Labels added, removed and changed between two releases, per item and per class.

    Example: ``labelloop release diff pets v1 v2``
    """
    store = open_store(ctx)
    try:
        d = diff_releases(store, project, a, b, max_rows=rows)
    finally:
        store.close()
    if as_json:
        payload = {
            "a": d.a,
            "b": d.b,
            "items": d.items,
            "classes": d.classes,
            "rows": [
                {"item_id": r.item_id, "key": r.key, "change": r.change, "a": r.a_annotation_id, "b": r.b_annotation_id}
                for r in d.rows
            ],
            "truncated": d.truncated,
        }
        console.print_json(orjson.dumps(payload).decode())
        return
    console.print(f"{a} → {b}: " + ", ".join(f"{v} {k}" for k, v in d.items.items()) + " items")
    table = Table("class", "added", "removed", "changed")
    for c, counts in d.classes.items():
        table.add_row(c, str(counts["added"]), str(counts["removed"]), str(counts["changed"]))
    console.print(table)
    for r in d.rows:
        console.print(f"  {r.change:>8} item {r.item_id}" + (f" ({r.key})" if r.key else ""), markup=False)
    if d.truncated:
        console.print("  … more (raise --rows)")


@app.command("lineage")
def lineage_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    name: Annotated[str, typer.Argument(help="Release name.")],
) -> None:
    """Print, per item, who or what produced its label (JSON lines).

    Example: ``labelloop release lineage pets v1 > lineage.jsonl``
    """
    store = open_store(ctx)
    try:
        for row in iter_lineage(store, project, name):
            typer.echo(orjson.dumps(row).decode())
    finally:
        store.close()


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    name: Annotated[str, typer.Argument(help="Release name.")],
    out: Annotated[Path, typer.Option("--out", help="A new (or empty) folder, or a new .zip file.")],
    fmt: Annotated[str, typer.Option("--format", help="native, coco, yolo, voc, label_studio, ...")] = "native",
    link_media: LinkMedia = False,
    no_media: NoMedia = False,
    as_zip: ZipOut = False,
) -> None:
    """Export a release (exactly its frozen label versions) as a signed folder (or one zip file).

    Example: ``labelloop release export pets v1 --format coco --out out/pets-v1 --zip``
    """
    out = zip_target(out, as_zip)
    store = open_store(ctx)
    try:
        key = signing_key(store, settings(ctx).release_key)
        with progress_bar(f"exporting release {name}") as progress:
            options: dict[str, Any] = {}
            if link_media and fmt != "native" and takes_option(fmt, "link"):
                options["link"] = True
            if no_media and (fmt == "native" or takes_option(fmt, "with_media")):
                options["with_media"] = False
            r = export_release(
                store, project, name, fmt, out, key=key, progress=progress, actor=Actor.user(getpass.getuser()),
                **options,
            )  # fmt: skip
    finally:
        store.close()
    console.print(
        f"exported release {r.release!r} as {fmt}: {r.items} items, {r.regions} regions, {r.files} files, "
        f"{r.skipped} skipped; Merkle root {r.merkle_root} → {out}"
    )


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A folder or .zip written by 'labelloop release export'.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="The trusted public key (PEM); default this data dir's key.")
    ] = None,
    parent: Annotated[Path | None, typer.Option("--parent", help="The exported parent release to check.")] = None,
) -> None:
    """Verify a signed release folder: signature, Merkle root, every label and file hash, parent.

    Exits 8 (``LL-TAMPER``) naming the first problem when anything was changed.

    Example: ``labelloop release verify out/pets-v1 --key release.pub.pem``
    """
    trusted = key or settings(ctx).release_key
    public = read_public_key(trusted) if trusted else None
    if not settings(ctx).data_dir.is_dir():  # a consumer without a workspace: nothing to cross-check
        report = verify_release_export(None, path, public_key=public, parent=parent)
    else:
        store = open_store(ctx)
        try:
            report = verify_release_export(store, path, public_key=public, parent=parent)
        finally:
            store.close()
    if not report.ok:
        for p in report.problems[1:]:
            err_console.print(f"  also: {p}", markup=False, soft_wrap=True)
        raise TamperDetected(f"{path}: {report.first}")
    trust = "trusted key" if report.trusted else "the key embedded in the manifest (no trusted key given)"
    m = report.manifest
    console.print(
        f"verified release {m.get('release')!r} of {m.get('project')!r}: {report.labels} label records, "
        f"{report.files} files, Merkle root {m.get('merkle_root')}; signed by {trust} {report.key_id[:16]}"
    )


@app.command("public-key")
def public_key_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Where to write the PEM public key.")],
) -> None:
    """Write the release signing key's public half (to give to whoever verifies releases).

    Example: ``labelloop release public-key release.pub.pem``
    """
    store = open_store(ctx)
    try:
        write_public_key(signing_key(store, settings(ctx).release_key).public_key(), out)
    finally:
        store.close()
    console.print(f"wrote {out}")
