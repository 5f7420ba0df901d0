"""Media bytes, for users who may read an item that uses them."""

from __future__ import annotations

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse, Response

from labelloop.api.deps import StoreDep, UserAuth
from labelloop.errors import NotFound
from labelloop.services.browse import media_file
from labelloop.services.web import can_fetch_media, point_bytes

router = APIRouter(prefix="/api", tags=["media"])

# types a browser may render inline; everything else (SVG, HTML, unknown) downloads
INLINE = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "audio/")


SHA = Path(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")


@router.get("/media/{sha256}/points")
def get_points(auth: UserAuth, store: StoreDep, sha256: str = SHA) -> Response:
    """A point cloud as little-endian float32 x,y,z triples (n × 12 bytes), same rights as the media."""
    if not can_fetch_media(store, auth.user, sha256):
        raise NotFound("media", sha256)
    return Response(
        point_bytes(store, sha256),
        media_type="application/octet-stream",
        headers={"Content-Security-Policy": "sandbox; default-src 'none'", "Cache-Control": "private, max-age=3600"},
    )


@router.get("/media/{sha256}")
def get_media(auth: UserAuth, store: StoreDep, sha256: str = SHA) -> FileResponse:
    """A blob with a safe content type, ``nosniff`` and a sandbox CSP; 404 unless the user may see it."""
    if not can_fetch_media(store, auth.user, sha256):
        raise NotFound("media", sha256)
    mf = media_file(store, sha256)
    inline = mf.media_type.startswith(INLINE)
    return FileResponse(
        mf.path,
        media_type=mf.media_type if inline else "application/octet-stream",
        content_disposition_type="inline" if inline else "attachment",
        filename=sha256,
        headers={"Content-Security-Policy": "sandbox; default-src 'none'", "Cache-Control": "private, max-age=3600"},
    )
