"""Point clouds: PCD (3 encodings), PLY (ascii/binary), LAS, LAZ and KITTI, through real writers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from labelloop.core.media import Medium
from labelloop.errors import InputRejected
from labelloop.modalities import PointCloud, load_pointcloud, probe_file
from tests.modalities.conftest import Media

Build = Callable[[Media], Path]


@pytest.mark.parametrize(
    ("build", "media_type", "form", "tolerance"),
    [
        pytest.param(lambda m: m.pcd(encoding="ascii"), "application/x-pcd", "pcd-ascii", 1e-6, id="pcd-ascii"),
        pytest.param(lambda m: m.pcd(encoding="binary"), "application/x-pcd", "pcd-binary", 0, id="pcd-binary"),
        pytest.param(
            lambda m: m.pcd(encoding="binary_compressed"),
            "application/x-pcd",
            "pcd-binary_compressed",
            0,
            id="pcd-compressed",
        ),
        pytest.param(lambda m: m.ply(text=True), "application/x-ply", "ply-ascii", 1e-6, id="ply-ascii"),
        pytest.param(lambda m: m.ply(), "application/x-ply", "ply-binary", 0, id="ply-binary"),
        pytest.param(lambda m: m.las(), "application/vnd.las", "las", 0.006, id="las"),
        pytest.param(lambda m: m.laz(), "application/vnd.laszip", "laz", 0.006, id="laz"),
        pytest.param(lambda m: m.kitti(), "application/x-kitti-bin", "kitti-bin", 0, id="kitti"),
    ],
)
def test_round_trip(media: Media, build: Build, media_type: str, form: str, tolerance: float) -> None:
    expected = media.points(64)
    media.rng = np.random.default_rng(7)  # the builder draws the same points again
    path = build(media)
    probed = probe_file(path, source=path.name)
    assert probed.kind is Medium.POINTCLOUD
    assert (probed.media_type, probed.meta["format"], probed.meta["points"]) == (media_type, form, 64)
    assert probed.meta["fields"][:3] == ["x", "y", "z"]
    assert "intensity" in probed.meta["fields"]
    lo, hi = probed.meta["bounds"]
    np.testing.assert_allclose(lo, expected[:, :3].min(axis=0), atol=tolerance + 1e-6)
    np.testing.assert_allclose(hi, expected[:, :3].max(axis=0), atol=tolerance + 1e-6)
    cloud = load_pointcloud(path)
    assert cloud.xyz.shape == (64, 3) and cloud.xyz.dtype == np.float32
    np.testing.assert_allclose(cloud.xyz, expected[:, :3], atol=tolerance + 1e-6)
    assert len(cloud.fields["intensity"]) == 64


def test_las_fields_are_per_point_arrays(media: Media) -> None:
    cloud = load_pointcloud(media.las(n=20))
    assert {"intensity", "classification", "return_number"} <= set(cloud.fields)
    assert all(len(values) == 20 for values in cloud.fields.values())


def test_pcd_with_multi_count_field_and_nan(media: Media) -> None:
    body = "\n".join(["1 2 3 0.1 0.2 0.3", "nan nan nan 0 0 0", "4 5 6 0.4 0.5 0.6"])
    header = "VERSION 0.7\nFIELDS x y z normal\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 3\n"
    header += "WIDTH 3\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 3\nDATA ascii\n"
    path = media.write("n.pcd", (header + body + "\n").encode())
    probed = probe_file(path, source="n.pcd")
    assert probed.meta["bounds"] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]  # NaN points are skipped
    assert probed.meta["fields"] == ["x", "y", "z", "normal"]
    assert load_pointcloud(path).fields["normal"].shape == (3, 3)


@pytest.mark.parametrize("encoding", ["ascii", "binary", "binary_compressed"])
def test_empty_pcd_is_allowed(media: Media, encoding: str) -> None:
    path = media.pcd(encoding=encoding, n=0)
    probed = probe_file(path, source="e.pcd")
    assert probed.meta["points"] == 0 and probed.meta["bounds"] is None
    assert len(load_pointcloud(path)) == 0


def test_empty_ply_is_allowed(media: Media) -> None:
    probed = probe_file(media.ply(n=0), source="e.ply")
    assert probed.meta["points"] == 0 and probed.meta["bounds"] is None


def _ply(header_lines: list[str], body: bytes = b"") -> bytes:
    return ("\n".join(["ply", *header_lines, "end_header"]) + "\n").encode() + body


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(
            _ply(
                [
                    "format binary_little_endian 1.0",
                    "element vertex 1000000000",
                    "property float x",
                    "property float y",
                    "property float z",
                ],
                bytes(24),
            ),
            r"at most 50000000 points, got a PLY header declaring 1000000000$",
            id="ply-huge-count",
        ),
        pytest.param(
            _ply(
                [
                    "format ascii 1.0",
                    "element vertex 1",
                    "property float x",
                    "property float y",
                    "property float z",
                    "element face 100000000",
                    "property list uchar int vertex_indices",
                ],
                b"0 0 0\n",
            ),
            r"got a PLY header declaring 1 vertex, 100000000 face but only 6 bytes of data$",
            id="ply-face-count-vs-bytes",
        ),
        pytest.param(
            _ply(["format ascii 1.0", "element face 1", "property list uchar int vertex_indices"], b"1 0\n"),
            r"got a PLY file without a vertex element$",
            id="ply-no-vertex",
        ),
        pytest.param(
            _ply(["format ascii 1.0", "element vertex 1", "property float x", "property float y", "property blob z"]),
            r"got a malformed PLY header \(line 6: ",
            id="ply-bad-type",
        ),
        pytest.param(
            b"VERSION 0.7\nFIELDS a b c\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1\nPOINTS 1\nDATA ascii\n1 2 3\n",
            r"got a PCD file without x/y/z fields \(has: a b c\)$",
            id="pcd-no-xyz",
        ),
        pytest.param(
            b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1\nPOINTS 1\n",
            r"got a PCD header without a DATA line$",
            id="pcd-no-data",
        ),
        pytest.param(
            b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 3\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1\nPOINTS 1\nDATA ascii\n1 2 3\n",
            r"got a PCD header with unsupported field types \(z:F3\)$",
            id="pcd-bad-size",
        ),
    ],
)
def test_header_refusals(media: Media, data: bytes, error: str) -> None:
    path = media.write("bad.cloud", data)
    with pytest.raises(InputRejected, match=error):
        load_pointcloud(path)


def test_truncated_pcd_compressed_stream(media: Media) -> None:
    path = media.truncated(media.pcd(encoding="binary_compressed", n=400), 0.8)
    with pytest.raises(InputRejected, match=r"got a truncated PCD \(compressed data of \d+ bytes, \d+ present\)$"):
        load_pointcloud(path)


def test_load_pointcloud_refuses_other_media(media: Media) -> None:
    with pytest.raises(InputRejected, match=r"expected a point cloud, got PNG image$"):
        load_pointcloud(media.png())
    with pytest.raises(InputRejected, match=r"expected a point cloud, got unrecognised content$"):
        load_pointcloud(media.write("r.bin", bytes(range(256))))


def test_pointcloud_value_object_validates() -> None:
    with pytest.raises(ValueError, match="float32"):
        PointCloud(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="intensity"):
        PointCloud(np.zeros((2, 3), dtype=np.float32), {"intensity": np.zeros(3)})
