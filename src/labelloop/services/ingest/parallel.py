"""Parse and prepare a large text manifest in a helper process, beside the database writes.

In one process, parsing JSON, hashing text and serialising rows share the interpreter lock with
the writer, so an import of short text items is bound by one core. A helper process does that
part on the other core and hands over ready rows, a batch at a time, through a pipe: the pipe
holds about one batch, so memory stays bounded whatever the manifest's size.

Only manifests whose media are all inline text go this way: the helper never writes a blob, so
stopping it at any moment leaves nothing behind. Errors in the helper are raised in the caller.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Generator
from itertools import islice
from pathlib import Path
from typing import IO, Any, cast

from labelloop.core import LabelSchema, Medium
from labelloop.errors import LabelloopError
from labelloop.services.ingest.manifests import read_manifest
from labelloop.services.ingest.prepare import ImportLimits, Prepared, Preparer

__all__ = ["HelperFailed", "prepared_in_process", "run_helper", "suits_process"]


class HelperFailed(LabelloopError):
    """The helper process that parses a manifest failed or ended early."""


def suits_process(schema: LabelSchema, manifest_bytes: int, limits: ImportLimits) -> bool:
    """Whether a manifest is worth a helper process: large, and only inline text media.

    Example:
        >>> from labelloop.core import LabelSchema
        >>> s = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}], "controls": []})
        >>> suits_process(s, 100 * 2**20, ImportLimits()), suits_process(s, 1000, ImportLimits())
        (True, False)
    """
    threshold = limits.process_min_bytes
    if threshold is None or manifest_bytes < threshold:
        return False
    return all(m.kind == Medium.TEXT for m in schema.media)


_LENGTH = struct.Struct("<Q")
_HELPER_MODULE = "labelloop.services.ingest._parse_helper"


def _send(out: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(data)))
    out.write(data)
    out.flush()


def _receive(inp: IO[bytes]) -> object:
    head = inp.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    size = _LENGTH.unpack(head)[0]
    data = inp.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # noqa: S301 (our own helper process, over a private pipe)


def run_helper(inp: IO[bytes], out: IO[bytes]) -> None:
    """Body of the helper process: send each prepared batch, then ``None``; or the failure.

    The cyclic garbage collector is off: the helper makes millions of short-lived, acyclic
    objects, and its collections would cost more than the parsing (the process is short-lived).
    """
    gc.disable()
    try:
        manifest, schema_json, limits = cast(tuple[str, dict[str, Any], ImportLimits], _receive(inp))
        path = Path(manifest)
        schema = LabelSchema.model_validate(schema_json)
        preparer = Preparer(schema, limits, blobs=None)
        with path.open("rb") as f:
            entries = read_manifest(
                f, name=path.name, root=path.parent, schema=schema, max_line_bytes=limits.max_line_bytes
            )
            while batch := list(islice(entries, limits.batch_size)):
                _send(out, preparer.prepare(batch, f.tell()))
        _send(out, None)
    except BrokenPipeError:
        pass  # the parent stopped reading: it is no longer interested
    except BaseException as exc:
        with contextlib.suppress(OSError):
            _send(out, ("failed", f"{type(exc).__name__}: {exc}"))


def prepared_in_process(manifest: Path, schema: LabelSchema, limits: ImportLimits) -> Generator[Prepared, None, None]:
    """Yield the prepared batches of ``manifest``, parsed in a helper process.

    The helper is a fresh interpreter running :mod:`._parse_helper` with the caller's import
    path, talking over its standard input and output; it never runs the caller's main module.
    Closing the iterator (or an error in the caller) stops the helper and waits for it.

    Raises:
        HelperFailed: the helper failed (its error is named) or died.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    helper = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
        [sys.executable, "-m", _HELPER_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert helper.stdin is not None and helper.stdout is not None
    try:
        _send(helper.stdin, (str(manifest), schema.model_dump(mode="json"), limits))
        helper.stdin.close()
        while True:
            try:
                got = _receive(helper.stdout)
            except EOFError:
                code = helper.wait()
                raise HelperFailed(f"the helper parsing {manifest.name} ended early (exit code {code})") from None
            if got is None:
                return
            if isinstance(got, tuple):
                raise HelperFailed(f"parsing {manifest.name} failed: {got[1]}")
            assert isinstance(got, Prepared)
            yield got
    finally:
        helper.stdout.close()
        if helper.poll() is None:
            helper.terminate()
        helper.wait()
