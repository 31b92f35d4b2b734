"""Where a command's channel inputs come from: arguments, a file or stdin, numbered as the file's lines.

``plan`` and ``run`` read through here, so both strip a BOM, read UTF-16, skip blank lines, number
what is left by its line in the file, and say in one line why a file cannot be read.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cli.app import fail
from pipeline.inputs import decode_input_file, numbered_lines


def clean_argument(text: str) -> str:
    """Make a command-line argument printable: undecodable bytes arrive as lone surrogates."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def read_file_bytes(path: str) -> bytes:
    """The bytes of ``path`` (``-``: stdin); a missing file, a folder or a refusal is one error line."""
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        return buffer.read() if buffer is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    target = Path(path)
    try:
        return target.read_bytes()
    except FileNotFoundError:
        fail(f"cannot read {path}: no such file", fix="check the path; --file - reads stdin")
    except IsADirectoryError:
        fail(f"cannot read {path}: it is a folder, not a file", fix="give the file inside it")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")


def read_inputs(inputs: list[str] | None, file: str | None) -> tuple[list[str], list[int]]:
    """The inputs and their line numbers: arguments are numbered 1, 2, …; a file by its own lines."""
    if inputs and file is not None:
        fail("give inputs as arguments or with --file, not both")
    if file is not None:
        texts, numbers = numbered_lines(decode_input_file(read_file_bytes(file)))
    else:
        texts = [clean_argument(text) for text in inputs or []]
        numbers = list(range(1, len(texts) + 1))
    if not texts:
        where = " on stdin" if file == "-" else (f" in {file}" if file is not None else "")
        fail(
            f"no inputs{where}",
            fix="pass them as arguments, or one per line with --file PATH (or --file - for stdin)",
        )
    return texts, numbers
