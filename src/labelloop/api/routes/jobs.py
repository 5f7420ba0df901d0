"""Background work of a project: imports (uploads), exports, and the jobs that run them.

An import or export answers ``202`` with its job at once; ``GET .../jobs/{id}`` shows its
status and progress (``done`` of ``total``), then its result or error. A finished export's
job names its download (``GET .../exports/{name}``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from labelloop.api.deps import JobsDep, ProjectAccess, StoreDep, UserAuth, action
from labelloop.api.uploads import receive_into
from labelloop.core import Actor
from labelloop.core.jobs import Job, JobStatus
from labelloop.services import web_exports, web_imports

router = APIRouter(prefix="/api", tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ExportIn(BaseModel):
    """An export: a format (``coco``, ``yolo``, ``native`` ...) and its options (see ``GET /api/formats``)."""

    model_config = ConfigDict(extra="forbid")

    format: str = Field(max_length=50)
    options: dict[str, Any] = Field(default_factory=dict, max_length=20)


def job_json(job: Job) -> dict[str, Any]:
    """A job's wire form; a finished export names its download URL."""
    out = job.to_json()
    if job.kind == "export" and job.status == JobStatus.DONE and job.result and job.result.get("file"):
        out["download"] = f"/api/projects/{job.project_id}/exports/{job.result['file']}"
    return out


@router.get("/formats")
def formats(_auth: UserAuth) -> dict[str, Any]:
    """What imports accept and which formats exports write, with each exporter's options."""
    return {"import": web_imports.import_formats(), "export": web_exports.export_formats()}


@router.post("/projects/{pid}/imports", status_code=202, openapi_extra=action("import.create"))
async def create_import(
    request: Request,
    access: ProjectAccess,
    store: StoreDep,
    jobs: JobsDep,
    filename: str = Query(min_length=1, max_length=255, description="The file's name (its suffix matters)."),
    format: str = Query("auto", max_length=50, description="auto, native, or a dataset format (GET /api/formats)."),
) -> dict[str, Any]:
    """Upload one file as the raw request body and import it as a job.

    ``curl -X POST --data-binary @pets.zip -H 'Content-Type: application/octet-stream'
    '.../imports?filename=pets.zip&format=coco'``. The job's result has the counts and the
    per-item errors (the rest is imported); a failure of the whole import keeps nothing.
    """
    fmt = web_imports.check_format(format)
    limit = request.app.state.settings.max_upload_bytes
    upload = await run_in_threadpool(web_imports.Upload, store, filename, limit)
    await receive_into(request, upload)
    actor = Actor.user(access.user.username)
    job = await run_in_threadpool(
        jobs.submit, access.project_id, "import", actor,
        web_imports.import_job(store, access.project_id, upload, fmt, actor),
        params={"format": fmt, "filename": upload.name, "bytes": upload.size}, cleanup=upload.discard,
    )  # fmt: skip
    return {"job": job_json(job)}


@router.post("/projects/{pid}/exports", status_code=202, openapi_extra=action("export.create"))
def create_export(body: ExportIn, access: ProjectAccess, store: StoreDep, jobs: JobsDep) -> dict[str, Any]:
    """Export the project as a zip, as a job (the same export asked again while it runs is the same job).

    Unknown options are refused (422) with the names the format takes.
    """
    options = web_exports.check_options(body.format, body.options)
    actor = Actor.user(access.user.username)
    work = web_exports.export_job(store, access.project_id, body.format, options, actor)
    params = {"format": body.format, "options": options}
    job = jobs.submit(access.project_id, "export", actor, work, params=params, dedupe=True)
    return {"job": job_json(job)}


@router.get("/projects/{pid}/exports/{name}", openapi_extra=action("export.read"))
def download_export(name: str, access: ProjectAccess, store: StoreDep) -> FileResponse:
    """A finished export (a zip), as an attachment."""
    path = web_exports.export_file(store, access.project_id, name)
    return FileResponse(path, media_type="application/zip", filename=f"project-{access.project_id}-{name}")


@router.get("/projects/{pid}/jobs", openapi_extra=action("job.read"))
def list_jobs(
    access: ProjectAccess,
    jobs: JobsDep,
    kind: str | None = Query(None, max_length=50),
    before: int | None = Query(None, ge=1, le=2**31 - 1),
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    """The project's jobs, newest first; ``next`` is the ``before`` of the next page."""
    found = jobs.list(access.project_id, limit=limit, before=before, kind=kind)
    return {"jobs": [job_json(j) for j in found], "next": found[-1].id if len(found) == limit else None}


@router.get("/projects/{pid}/jobs/{jid}", openapi_extra=action("job.read"))
def get_job(jid: JobId, access: ProjectAccess, jobs: JobsDep) -> dict[str, Any]:
    """A job: status, progress, and its result or error."""
    return {"job": job_json(jobs.get(access.project_id, jid))}


@router.post("/projects/{pid}/jobs/{jid}/cancel", openapi_extra=action("job.cancel"))
def cancel_job(jid: JobId, access: ProjectAccess, jobs: JobsDep) -> dict[str, Any]:
    """Cancel a queued job, or ask a running one to stop; 409 when it has ended already."""
    return {"job": job_json(jobs.cancel(access.project_id, jid))}
