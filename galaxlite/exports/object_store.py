"""Training exports on an object store: whether a folder exists there, and removing one.

Lance writes and reads ``s3://`` URIs itself (with its ``storage_options``: credentials,
``aws_endpoint``, ``aws_region``, ``allow_http``). An object store has no rename, so an export
there is written in place under its final folder; it is found only through the catalog row
that its tag's transaction commits, and a failed export's objects are removed here (with
pyarrow's S3 file system, given the same options). Only ``s3://`` (and S3-compatible servers)
is supported: another scheme raises NotSupportedError.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from galaxlite import errors
from galaxlite.storage.files import OBJECT_STORE_SCHEMES


def _option(options: dict, *names: str) -> Any:
    lower = {k.lower(): v for k, v in options.items()}
    return next((lower[n] for n in names if lower.get(n) not in (None, "")), None)


def filesystem(uri: str, options: dict) -> tuple[Any, str]:
    """(pyarrow file system, path in it) for an object store URI."""
    parsed = urlparse(uri)
    if parsed.scheme not in OBJECT_STORE_SCHEMES:
        raise errors.NotSupportedError(
            f"training exports on {parsed.scheme}:// are not supported yet (s3:// is, including "
            "S3-compatible servers through storage_options={'aws_endpoint': ...})"
        )
    from pyarrow import fs

    kwargs: dict[str, Any] = {
        "access_key": _option(options, "aws_access_key_id", "access_key_id"),
        "secret_key": _option(options, "aws_secret_access_key", "secret_access_key"),
        "session_token": _option(options, "aws_session_token", "session_token"),
        "region": _option(options, "aws_region", "region"),
    }
    endpoint = _option(options, "aws_endpoint", "endpoint", "aws_endpoint_url")
    if endpoint:
        target = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        kwargs["endpoint_override"], kwargs["scheme"] = target.netloc, target.scheme
    return fs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None}), f"{parsed.netloc}{parsed.path}"


def exists(uri: str, options: dict) -> bool:
    """Is there anything at ``uri`` (an object or a folder)?"""
    from pyarrow import fs

    store, path = filesystem(uri, options)
    if store.get_file_info(path).type != fs.FileType.NotFound:
        return True
    return bool(store.get_file_info(fs.FileSelector(path, allow_not_found=True, recursive=False)))


def remove(uri: str, options: dict) -> None:
    """Remove everything under ``uri`` (nothing there is fine)."""
    store, path = filesystem(uri, options)
    try:
        store.delete_dir(path)
    except FileNotFoundError:
        pass
