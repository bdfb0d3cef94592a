"""Store objects written before the insert transaction, read back without the database.

DataJoint's codecs upload an array or a folder while they encode an insert,
that is inside the insert's transaction.  EthoJoint uploads in the compute
step instead (:func:`upload`) and inserts only the metadata, so that a
transaction records what is already in the store and lasts milliseconds:

- ``<array@store>`` is DataJoint's ``<npy@>`` (same ``.npy`` files, same
  metadata, same lazy reference on fetch) plus the array's sha256 in the
  metadata, and it accepts metadata that :func:`upload` returned;
- ``<object@store>`` accepts such metadata already.

``make_fetch`` reads an array's metadata (:func:`metadata`: path, shape,
dtype, sha256 -- small, so DataJoint's fetch hash covers it) and
``make_compute`` loads it with :func:`load_array`, which checks the sha256.
An upload whose insert failed is removed (:func:`removed_on_error`);
anything left over (a killed worker) is listed by :func:`orphans`
(``ethojoint store gc --dry-run``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import time
from datetime import datetime

import numpy as np
from datajoint.builtin_codecs.npy import NpyCodec, NpyRef
from datajoint.errors import DataJointError
from datajoint.hash_registry import get_store_backend
from datajoint.objectref import ObjectRef


class StoredArray(NpyRef):
    """The lazy array reference that fetching an ``<array@>`` attribute returns."""

    @property
    def metadata(self) -> dict:
        """The stored metadata: ``path, store, dtype, shape, sha256``."""
        return dict(self._meta)


class ArrayCodec(NpyCodec):
    """``<array@store>``: a numpy array as an ``.npy`` file, with its sha256; accepts pre-uploaded metadata."""

    name = "array"

    def validate(self, value) -> None:
        if isinstance(value, dict) and "path" in value:
            return
        super().validate(value)

    def encode(self, value, *, key=None, context=None, store_name=None) -> dict:
        if isinstance(value, dict) and "path" in value:
            return value  # uploaded by upload() before the insert
        schema, table, field, primary_key = self._extract_context(key, context)
        config = self._codec_config(key, context)
        path, _ = self._build_path(schema, table, field, primary_key, ext=".npy", store_name=store_name,
                                   config=config)
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        data = buffer.getvalue()
        self._get_backend(store_name, config=config).put_buffer(data, path)
        return {"path": path, "store": store_name, "dtype": str(value.dtype), "shape": list(value.shape),
                "sha256": hashlib.sha256(data).hexdigest()}

    def decode(self, stored, *, key=None, context=None) -> StoredArray:
        config = self._codec_config(key, context)
        return StoredArray(stored, self._get_backend(stored.get("store"), config=config))


def upload(table, key: dict, field: str, value) -> dict:
    """Write ``value`` to the store as ``table.field`` of ``key`` would be; return the metadata to insert.

    Runs no SQL: call it from ``make_compute``.  ``value`` is an array for
    ``<array@>`` or a file / folder path for ``<object@>``.
    """
    attr = table.heading[field]
    if attr.codec is None or attr.codec.name not in ("array", "object"):
        raise DataJointError(f"{table.class_name}.{field} is not an <array@> or <object@> attribute")
    attr.codec.validate(value)
    config = table.connection._config
    context = {"schema": table.database, "table": table.table_name, "field": field, "config": config}
    return attr.codec.encode(value, key={k: key[k] for k in table.primary_key}, context=context,
                             store_name=attr.store)


def upload_all(table, key: dict, arrays: dict) -> dict:
    """Upload ``{field: array}`` for ``table``'s row ``key``; return ``{field: metadata}`` (all or none stored)."""
    uploaded = {}
    try:
        for name, array in arrays.items():
            uploaded[name] = upload(table, key, name, array)
    except BaseException:
        remove(uploaded.values())
        raise
    return uploaded


def metadata(value) -> dict:
    """The stored metadata of a fetched ``<array@>`` or ``<object@>`` value (what ``make_fetch`` returns)."""
    if isinstance(value, StoredArray):
        return value.metadata
    if isinstance(value, ObjectRef):
        return value.to_json()
    raise TypeError(f"not a stored array or object: {type(value).__name__}")


def small(row: dict) -> dict:
    """A fetched row with its stored arrays and objects replaced by their metadata (what make_fetch returns)."""
    return {k: metadata(v) if isinstance(v, (StoredArray, ObjectRef)) else v for k, v in row.items()}


def load_array(meta: dict, *, dtype=None) -> np.ndarray:
    """Read an ``<array@>`` object from its metadata (no database), checking its sha256 when recorded."""
    data = get_store_backend(meta.get("store")).get_buffer(meta["path"])
    sha = meta.get("sha256")
    if sha and hashlib.sha256(data).hexdigest() != sha:
        raise DataJointError(f"store object {meta['path']} does not match its recorded sha256")
    array = np.load(io.BytesIO(data), allow_pickle=False)
    return array if dtype is None else array.astype(dtype)


def object_ref(meta: dict) -> ObjectRef:
    """An ``<object@>`` handle from its metadata (no database); ``.download(folder)`` fetches it."""
    return ObjectRef.from_json(meta, backend=get_store_backend(meta.get("store")))


def remove(metas) -> None:
    """Delete uploaded objects (best effort): the insert that would have referenced them failed."""
    for meta in metas:
        with contextlib.suppress(Exception):
            backend = get_store_backend(meta.get("store"))
            if meta.get("is_dir"):
                backend.remove_folder(meta["path"])
            else:
                backend.remove(meta["path"])


@contextlib.contextmanager
def removed_on_error(*metas):
    """Run an insert; if it raises, delete the objects uploaded for it and re-raise."""
    try:
        yield
    except BaseException:
        remove(m for m in metas if m)
        raise


def orphans(schemas, *, min_age_hours: float = 0.0) -> list[dict]:
    """Store objects of ``schemas`` that no row references, last written over ``min_age_hours`` ago.

    Returns ``[{"path", "bytes", "modified"}]``.  The upload of a job that
    is still running is not referenced yet: delete only orphans older than
    the longest job (:func:`collect`).
    """
    return _orphans(_collector(schemas), min_age_hours)


def collect(schemas, *, min_age_hours: float = 24.0) -> list[dict]:
    """Delete the :func:`orphans` older than ``min_age_hours``; return what was deleted."""
    collector = _collector(schemas)
    found = _orphans(collector, min_age_hours)
    return [item for item in found if collector.delete_schema_path(item["path"])]


def _collector(schemas):
    from datajoint.gc import GarbageCollector

    from .config import STORE

    return GarbageCollector(*schemas, store=STORE)


def _orphans(collector, min_age_hours: float) -> list[dict]:
    report = collector.collect(dry_run=True)
    if report["scan_errors"]:
        raise DataJointError(f"the store could not be listed completely: {report['scan_errors']}")
    sizes = {}
    for schema in collector.schemas:
        sizes.update(collector.list_schema_paths(schema.database))
    cutoff = time.time() - 3600.0 * min_age_hours
    found = []
    for path in report["orphaned_schema_paths"]:
        modified = _modified(collector.backend, path)
        if modified is None or modified <= cutoff:
            found.append({"path": path, "bytes": int(sizes.get(path, 0)), "modified": modified})
    return found


def _modified(backend, path: str) -> float | None:
    try:
        stamp = backend.fs.modified(backend._full_path(path))
    except Exception:
        return None
    return stamp.timestamp() if isinstance(stamp, datetime) else float(stamp)
