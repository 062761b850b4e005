"""Where each frame's bytes lie in a DICOM file, found once at open without reading the pixels.

Native (uncompressed) pixel data is a run of equally sized frames. Encapsulated pixel data is a
sequence of items: a Basic Offset Table, then fragments; we index the fragments by seeking from
item header to item header, then group them into frames using (in order of trust) the Extended
Offset Table, the Basic Offset Table, one fragment per frame, or the codec's start-of-image
marker. Truncated files are detected here, so opening them fails with a clear reason.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

ITEM = 0xE000FFFE  # (FFFE,E000) read as a little-endian uint32
SEQUENCE_END = 0xE0DDFFFE  # (FFFE,E0DD)
START_MARKERS = (b"\xff\xd8", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0c")  # JPEG SOI, J2K SOC, JP2 box


class FrameIndexError(Exception):
    """The pixel data cannot be split into the expected frames (the reason is the message)."""


@dataclass(frozen=True)
class Span:
    """``length`` bytes at ``offset`` of the stream."""

    offset: int
    length: int


def native_spans(start: int, available: int, frames: int, frame_bytes: int) -> tuple[tuple[Span, ...], ...]:
    """Spans of ``frames`` equally sized native frames starting at ``start``.

    Args:
        start: stream offset of the first pixel byte.
        available: bytes of pixel data actually present in the stream.
        frames: NumberOfFrames.
        frame_bytes: size of one frame in bytes.
    """
    if frame_bytes <= 0:
        raise FrameIndexError("image has no pixels (Rows or Columns is 0)")
    whole = available // frame_bytes
    if whole < frames:
        raise FrameIndexError(f"truncated pixel data: holds {whole} of {frames} frames")
    return tuple((Span(start + i * frame_bytes, frame_bytes),) for i in range(frames))


def item_spans(fp: BinaryIO, start: int, end: int) -> list[Span]:
    """Item value spans from ``start`` up to the sequence delimiter; BOT first."""
    out: list[Span] = []
    pos = start
    while True:
        fp.seek(pos)
        head = fp.read(8)
        if len(head) < 8:
            raise FrameIndexError("truncated pixel data: the fragment sequence ends early")
        tag, length = struct.unpack("<II", head)
        if tag == SEQUENCE_END:
            return out
        if tag != ITEM:
            raise FrameIndexError(f"corrupt encapsulated pixel data: unexpected tag {tag:08X}")
        if pos + 8 + length > end:
            raise FrameIndexError("truncated pixel data: a fragment runs past the end of the file")
        out.append(Span(pos + 8, length))
        pos += 8 + length


def _group_by_offsets(fragments: Sequence[Span], first_item: int, offsets: Sequence[int]) -> list[int]:
    starts = {frag.offset - 8 - first_item: i for i, frag in enumerate(fragments)}
    firsts = []
    for off in offsets:
        if off not in starts:
            raise FrameIndexError("truncated pixel data: an offset table entry points past the fragments")
        firsts.append(starts[off])
    return firsts


def _group_by_markers(fp: BinaryIO, fragments: Sequence[Span]) -> list[int]:
    firsts = [0]
    for i, frag in enumerate(fragments[1:], start=1):
        fp.seek(frag.offset)
        if fp.read(4).startswith(START_MARKERS):
            firsts.append(i)
    return firsts


def encapsulated_spans(
    fp: BinaryIO, start: int, end: int, frames: int, extended_offsets: Sequence[int] | None = None
) -> tuple[tuple[Span, ...], ...]:
    """Frame spans of encapsulated pixel data whose first item header is at ``start``.

    Args:
        fp: the stream, seekable.
        start: offset of the Basic Offset Table item header.
        end: offset just past the last byte of the stream.
        frames: NumberOfFrames.
        extended_offsets: ExtendedOffsetTable values, if the dataset has them.
    """
    items = item_spans(fp, start, end)
    if not items:
        raise FrameIndexError("encapsulated pixel data has no Basic Offset Table item")
    bot, fragments = items[0], items[1:]
    if not fragments:
        raise FrameIndexError("truncated pixel data: no frames")
    first_item = fragments[0].offset - 8
    if extended_offsets:
        firsts = _group_by_offsets(fragments, first_item, extended_offsets)
    elif bot.length:
        fp.seek(bot.offset)
        offsets = np.frombuffer(fp.read(bot.length), dtype="<u4").tolist()
        firsts = _group_by_offsets(fragments, first_item, offsets)
    elif frames == 1:
        firsts = [0]
    elif len(fragments) == frames:
        firsts = list(range(frames))
    else:
        firsts = _group_by_markers(fp, fragments)
    if len(firsts) < frames:
        raise FrameIndexError(f"truncated pixel data: holds {len(firsts)} of {frames} frames")
    bounds = [*firsts[:frames], len(fragments) if len(firsts) <= frames else firsts[frames]]
    return tuple(tuple(fragments[a:b]) for a, b in itertools.pairwise(bounds))


class FrameReader:
    """Reads one frame's bytes from a file (opened on first use) or an in-memory buffer.

    File reads use ``os.pread`` where the platform has it: it needs no shared file position, so
    decoding threads do not serialise on a lock.

    Args:
        spans: per frame, the spans whose concatenation is the frame.
        path: the file, or None when ``buffer`` holds the bytes.
        buffer: in-memory bytes (deflated files are inflated into one).
    """

    def __init__(
        self, spans: tuple[tuple[Span, ...], ...], path: str | None = None, buffer: bytes | None = None
    ) -> None:
        self.spans = spans
        self._path = path
        self._buffer = None if buffer is None else memoryview(buffer)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _descriptor(self) -> int:
        with self._lock:
            if self._fd is None:
                self._fd = os.open(str(self._path), os.O_RDONLY | getattr(os, "O_BINARY", 0))
            return self._fd

    def _read_span(self, span: Span) -> bytes:
        if self._buffer is not None:
            return bytes(self._buffer[span.offset : span.offset + span.length])
        fd = self._descriptor()
        if hasattr(os, "pread"):
            return os.pread(fd, span.length, span.offset)
        with self._lock:  # Windows has no pread: seek and read under the lock
            os.lseek(fd, span.offset, os.SEEK_SET)
            return os.read(fd, span.length)

    def read(self, index: int) -> bytes:
        """The encoded bytes of frame ``index``."""
        spans = self.spans[index]
        data = self._read_span(spans[0]) if len(spans) == 1 else b"".join(map(self._read_span, spans))
        if len(data) != sum(s.length for s in spans):
            raise FrameIndexError(f"frame {index} is truncated")
        return data

    def close(self) -> None:
        """Close the file; a later read opens it again."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
