"""Archives (ZIP, TAR, 7z, RAR, gzip) opened entry by entry, at any depth.

An archive is read from its bytes in memory, or from a stream when it is too large to hold
(`families.streamed_blob_items`). Nothing is ever extracted to disk, so a hostile entry name
cannot escape anywhere; names are still normalised before they are recorded. Limits on entry
count and expansion ratio stop zip bombs: what exceeds them becomes an exception record, never
a crash. An entry larger than `ingest.max_attachment_bytes` is streamed, never held whole.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import tarfile
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

from pipeline.mail import Origin, ParseContext, exception_item
from pipeline.records import Item

MAX_ENTRIES = 100_000
# Expansion beyond this ratio (uncompressed / compressed) is refused once the archive would
# expand past BOMB_FLOOR_BYTES: small, very compressible archives are normal.
MAX_EXPANSION_RATIO = 200
BOMB_FLOOR_BYTES = 64 << 20

SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
RAR_MAGIC = b"Rar!\x1a\x07"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# ZIP-based document formats go to Tika as documents, not opened as archives.
DOCUMENT_ZIP_MARKERS = ("[Content_Types].xml", "mimetype", "META-INF/manifest.xml")


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    # A fresh stream of the whole entry; None where the format gives none (7z).
    open: Callable[[], BinaryIO] | None = None
    read: Callable[[int], bytes] | None = None   # read(limit): at most limit + 1 bytes
    # digest(max_bytes) -> (MD5, SHA-256, size), for an entry with no stream: its content is
    # hashed as it is decompressed, never held.
    digest: Callable[[int], tuple[str, str, int]] | None = None
    encrypted: bool = False
    is_link: bool = False           # a symbolic or hard link: recorded, never followed

    def head(self, limit: int) -> bytes:
        """At most limit + 1 bytes of the entry: one more than the limit says it goes past."""
        if self.read is not None:
            return self.read(limit)
        with self.open() as stream:
            return stream.read(limit + 1)


class ContainerError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def safe_entry_path(name: str) -> str:
    """An entry's path with drive letters, absolute roots and '..' climbs removed."""
    cleaned = name.replace("\\", "/")
    if len(cleaned) > 1 and cleaned[1] == ":":
        cleaned = cleaned[2:]
    cleaned = posixpath.normpath("/" + cleaned).lstrip("/")
    return cleaned if cleaned not in ("", ".") else "unnamed"


def _is_document_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return any(marker in names for marker in DOCUMENT_ZIP_MARKERS)


def container_kind(data: bytes, name: str | None) -> str | None:
    """'zip', 'tar', '7z' or 'gzip' when the bytes are an archive to open; None otherwise."""
    lowered = (name or "").lower()
    if data.startswith(SEVEN_ZIP_MAGIC):
        return "7z"
    if data.startswith(RAR_MAGIC):
        return "rar"
    if data.startswith(ZIP_MAGICS):
        return None if _is_document_zip(data) else "zip"
    if len(data) > 262 and data[257:262] == b"ustar":
        return "tar"
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    if lowered.endswith((".zip", ".7z", ".rar", ".tar", ".tgz", ".gz")):
        # Named as an archive but not shaped like one: opening it records why it is corrupt.
        return {".zip": "zip", ".7z": "7z", ".tar": "tar", ".rar": "rar"}.get(posixpath.splitext(lowered)[1],
                                                               "gzip")
    return None


def _zip_entries(source: BinaryIO) -> Iterator[Entry]:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ContainerError("corrupt", f"not a readable ZIP archive: {exc}") from exc
    for info in archive.infolist():
        if info.is_dir():
            continue
        yield Entry(info.filename, info.file_size, open=lambda info=info: archive.open(info),
                    encrypted=bool(info.flag_bits & 0x1),
                    is_link=(info.external_attr >> 16) & 0o170000 == 0o120000)


def _tar_entries(source: BinaryIO) -> Iterator[Entry]:
    try:
        archive = tarfile.open(fileobj=source, mode="r:*")
        members = archive.getmembers()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ContainerError("corrupt", f"not a readable TAR archive: {exc}") from exc
    for member in members:
        if member.issym() or member.islnk():
            yield Entry(member.name, 0, is_link=True,
                        read=lambda limit, m=member: m.linkname.encode()[:limit + 1])
        elif member.isfile():
            yield Entry(member.name, member.size, open=lambda m=member: archive.extractfile(m))


def _seven_zip_entries(source: BinaryIO) -> Iterator[Entry]:
    import py7zr
    from py7zr.io import BytesIOFactory

    try:
        archive = py7zr.SevenZipFile(source)
        if archive.needs_password():
            raise ContainerError("encrypted", "the 7z archive is password-protected")
        files = [info for info in archive.list() if not info.is_directory]
    except ContainerError:
        raise
    except Exception as exc:  # py7zr raises many types for damaged archives
        reason = "encrypted" if "password" in str(exc).lower() else "corrupt"
        raise ContainerError(reason, f"not a readable 7z archive: {exc}") from exc
    for info in files:
        def read(limit: int, filename: str = info.filename) -> bytes:
            archive.reset()
            factory = BytesIOFactory(limit + 1)
            archive.extract(targets=[filename], factory=factory)
            product = factory.get(filename)
            product.seek(0)
            return product.read()

        def digest(max_bytes: int, filename: str = info.filename) -> tuple[str, str, int]:
            archive.reset()
            factory = _hashing_factory(max_bytes)
            archive.extract(targets=[filename], factory=factory)
            return factory.product.digest()
        yield Entry(info.filename, info.uncompressed or 0, read=read, digest=digest,
                    is_link=info.is_symlink)


def _hashing_factory(max_bytes: int) -> Any:
    """A py7zr writer factory whose one product hashes what is written to it and keeps none."""
    from py7zr.io import Py7zIO, WriterFactory

    from pipeline.families import ContentDigest

    class Hashing(Py7zIO):
        def __init__(self) -> None:
            self.content = ContentDigest(max_bytes)

        def write(self, data: bytes | bytearray) -> int:
            self.content.update(data)
            return len(data)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.content.size

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return self.content.size

        def digest(self) -> tuple[str, str, int]:
            return self.content.result()

    class Factory(WriterFactory):
        def __init__(self) -> None:
            self.product = Hashing()

        def create(self, filename: str) -> Py7zIO:
            return self.product

    return Factory()


def _is_volume_set(archive: Any, infos: list[Any]) -> bool:
    """Whether a RAR is the first volume of a multi-volume set: its main header says so (rarfile
    keeps it unexposed), or an entry runs on into the next volume."""
    import rarfile

    main = getattr(getattr(archive, "_file_parser", None), "_main", None)
    return bool(main is not None and main.flags & rarfile.RAR_MAIN_VOLUME) or any(
        info.flags & rarfile.RAR_FILE_SPLIT_AFTER for info in infos)


def _rar_entries(source: BinaryIO, volume_path: str | None = None) -> Iterator[Entry]:
    """A RAR's entries. `volume_path` is the RAR's path when it is an evidence file itself: the
    first volume of a multi-volume set is then opened by its path, so that rarfile finds the
    next volumes beside it. (Anything else is read from the stream: unar, which rarfile runs for
    compressed entries, fails on some solid RAR5 archives opened by path.)"""
    import rarfile

    try:
        archive = rarfile.RarFile(source)
        infos = archive.infolist()
        if volume_path is not None and _is_volume_set(archive, infos):
            archive = rarfile.RarFile(volume_path)
            infos = archive.infolist()
    except rarfile.NeedFirstVolume as exc:
        raise ContainerError("multi_volume", "a later volume of a multi-volume RAR: its entries "
                                             "are read with the set's first volume") from exc
    except rarfile.PasswordRequired as exc:
        raise ContainerError("encrypted", "the RAR archive is password-protected") from exc
    except (rarfile.Error, OSError, ValueError) as exc:
        raise ContainerError("corrupt", f"not a readable RAR archive: {exc}") from exc
    if not infos and archive.needs_password():
        raise ContainerError("encrypted", "the RAR archive's headers are encrypted: its entries "
                                          "cannot even be listed without the password")

    def open_entry(info: Any) -> BinaryIO:
        try:
            return archive.open(info)
        except rarfile.RarCannotExec as exc:
            # Compressed RAR entries need an external decompressor (Debian: unar).
            raise ContainerError("unsupported", f"no RAR decompressor installed: {exc}") from exc
    for info in infos:
        if info.is_dir():
            continue
        yield Entry(info.filename, info.file_size, open=lambda info=info: open_entry(info),
                    encrypted=info.needs_password(), is_link=info.is_symlink())


def _gzip_entries(source: BinaryIO, name: str | None) -> Iterator[Entry]:
    base = posixpath.basename(name or "file.gz")
    if base.lower().endswith(".tgz"):
        inner = base[:-4] + ".tar"
    elif base.lower().endswith(".gz"):
        inner = base[:-3]
    else:
        inner = base + ".out"

    def open_stream() -> BinaryIO:
        # One entry, opened one stream at a time: each starts from the archive's first byte.
        source.seek(0)
        return gzip.GzipFile(fileobj=source)

    def read(limit: int) -> bytes:
        try:
            with open_stream() as stream:
                return stream.read(limit + 1)
        except (OSError, EOFError) as exc:
            raise ContainerError("corrupt", f"not a readable gzip stream: {exc}") from exc
    yield Entry(inner, -1, open=open_stream, read=read)


def rar_volume_bytes(path: str) -> int:
    """The size of a RAR set from its first volume's path: every volume's bytes."""
    import rarfile

    try:
        return sum(os.path.getsize(volume) for volume in rarfile.RarFile(path).volumelist())
    except (rarfile.Error, OSError, ValueError):   # _rar_entries reports what is wrong
        return os.path.getsize(path)


def _entries(kind: str, source: BinaryIO, name: str | None,
             volume_path: str | None = None) -> Iterator[Entry]:
    if kind == "zip":
        return _zip_entries(source)
    if kind == "tar":
        return _tar_entries(source)
    if kind == "7z":
        return _seven_zip_entries(source)
    if kind == "rar":
        return _rar_entries(source, volume_path)
    return _gzip_entries(source, name)


def container_items(kind: str, content: bytes | BinaryIO, container: Item, origin: Origin,
                    ctx: ParseContext, size: int | None = None) -> list[Item]:
    """The items inside an archive: one family member per entry, any depth below. `content`
    is the archive's bytes, or a stream that seeks cheaply and `size` is its length."""
    from pipeline.families import ExpansionLimit, blob_items, child_path, streamed_blob_items

    def problem(reason: str, message: str, entry: str | None = None) -> Item:
        locator = f"{container.source_locator} > {entry}" if entry else container.source_locator
        return exception_item(origin, container.id, f"open {kind}", reason, message,
                              container.file_name, locator)

    limit = ctx.ingest.max_attachment_bytes
    if isinstance(content, bytes):
        size, source = len(content), io.BytesIO(content)
    else:
        source = content
    # A RAR that is an evidence file is opened by its path: its set's next volumes are beside it.
    volume_path = origin.source_path if kind == "rar" and container.parent_id is None \
        and os.path.isfile(origin.source_path) else None
    if volume_path is not None:
        size = rar_volume_bytes(volume_path)
    try:
        entries = list(_entries(kind, source, container.file_name, volume_path))
    except ContainerError as exc:
        return [problem(exc.reason, str(exc))]
    if len(entries) > MAX_ENTRIES:
        return [problem("too_many_entries", f"{len(entries)} entries (limit {MAX_ENTRIES})")]
    declared = sum(max(entry.size, 0) for entry in entries)
    most_expanded = max(BOMB_FLOOR_BYTES, MAX_EXPANSION_RATIO * max(size or 0, 1))
    if declared > most_expanded:
        return [problem("zip_bomb", f"would expand {size} bytes to {declared} bytes "
                                    f"(ratio limit {MAX_EXPANSION_RATIO})")]
    items: list[Item] = []
    for index, entry in enumerate(entries, start=1):
        path = safe_entry_path(entry.path)
        if entry.encrypted:
            items.append(problem("encrypted", "the entry is password-protected", path))
            continue
        if entry.is_link:
            target = entry.head(4096).decode("utf-8", "replace")
            items.append(problem("link_entry", f"a link to {target!r}, recorded and not "
                                               f"followed", path))
            continue
        name, family_path = posixpath.basename(path), child_path(container.family_path, index)
        try:
            content = entry.head(limit) if entry.size <= limit else None
            if content is not None and len(content) <= limit:
                children = blob_items(content, name, None, origin, ctx, container, family_path)
            else:
                children = streamed_blob_items(
                    entry.open, name, None, origin, ctx, container, family_path,
                    random_access=False, max_bytes=most_expanded,
                    digest=entry.digest(most_expanded) if entry.open is None else None)
        except ExpansionLimit as exc:
            items.append(problem("zip_bomb", f"the entry {exc} (ratio limit "
                                             f"{MAX_EXPANSION_RATIO})", path))
            continue
        except ContainerError as exc:
            items.append(problem(exc.reason, str(exc), path))
            continue
        except Exception as exc:  # damaged entries raise whatever their codec raises
            reason = "encrypted" if "password" in str(exc).lower() else "corrupt"
            items.append(problem(reason, f"{type(exc).__name__}: {exc}", path))
            continue
        if children and children[0].type != "exception":
            children[0].folder_path = path
        items.extend(children)
    container.attachment_count = len(entries)
    container.has_attachments = bool(entries)
    container.attachment_names = [safe_entry_path(entry.path) for entry in entries]
    return items
