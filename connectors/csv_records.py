"""CSV records read line by line, with quoted fields bounded by the line structure.

Python's csv module lets a quoted field run across line breaks until the next quote character,
so one unclosed quote swallows every row after it into a single broken record (or, worse, into a
well-formed record holding other rows' text). The rule applied here (docs/ingest.md, "Quotes and
line breaks"):

- A quoted field may continue onto the next line only while that next line, read on its own, is
  *not* a complete record: RFC 4180 quoting (quotes only around whole fields, doubled inside),
  and the file's number of fields. A line that is such a record starts a new record, and the
  open record is reported as broken (code ``unclosed_quote``) with its own lines only.
- A quoted field may not grow past ``max_field_chars`` characters across lines; the record is
  then reported as broken (code ``too_long``) and reading goes on after the lines it took.
- A record over several lines must be cleanly quoted as a whole; if the quote that closes the
  field is followed by other text (another line's opening quote closed it), the record is broken.
- Every field longer than ``max_field_chars`` makes its record ``too_long``.

So a valid row is never read as part of another record, and every line of the file ends up in
exactly one record (good or broken), with the number of the line it starts on.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_MAX_FIELD_CHARS = 16 * 1024 * 1024
# The csv module's own limit is lifted to this once; fields are bounded by max_field_chars instead,
# which is per reader (the csv module's limit is process-wide).
_CSV_MODULE_LIMIT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One record: the number of its first line, its fields, its verbatim text (final line break
    removed) and, when it is broken, ``problem`` = (reason, code)."""

    line: int
    fields: list[str]
    text: str
    problem: tuple[str, str] | None = None

    @property
    def blank(self) -> bool:
        return self.problem is None and not any(f.strip() for f in self.fields)


@lru_cache(maxsize=16)
def _record_pattern(delimiter: str) -> re.Pattern[str]:
    d = re.escape(delimiter)
    field = f'(?:"[^"]*(?:""[^"]*)*"|[^"{d}\\r\\n]*)'
    return re.compile(f"{field}(?:{d}{field})*")


def _lift_csv_module_limit() -> None:
    if csv.field_size_limit() < _CSV_MODULE_LIMIT:
        csv.field_size_limit(_CSV_MODULE_LIMIT)


def _strip_break(line: str) -> str:
    return line.rstrip("\r\n")


class RecordReader:
    """Iterates :class:`CsvRecord` s from text ``lines`` (each with its line break, as a text file
    yields them); ``first_line`` is the number of the first one. Set ``n_fields`` once the header
    is known: a line counts as the start of a new record only when it has that many fields."""

    def __init__(self, lines: Iterator[str], first_line: int, *, delimiter: str = ",",
                 n_fields: int | None = None, max_field_chars: int = DEFAULT_MAX_FIELD_CHARS) -> None:
        self._lines = iter(lines)
        self._ahead: str | None = None
        self.next_line = first_line
        self.delimiter = delimiter
        self.n_fields = n_fields
        self.max_field_chars = max_field_chars
        self.read_chars = 0
        _lift_csv_module_limit()

    def __iter__(self) -> RecordReader:
        return self

    def _peek(self) -> str | None:
        if self._ahead is None:
            self._ahead = next(self._lines, None)
        return self._ahead

    def _take(self) -> str:
        line = self._peek()
        if line is None:
            raise StopIteration
        self._ahead = None
        self.next_line += 1
        self.read_chars += len(line)
        return line

    def starts_record(self, line: str) -> bool:
        """Whether ``line`` on its own is a complete, cleanly quoted record of the expected width."""
        text = _strip_break(line)
        if not _record_pattern(self.delimiter).fullmatch(text):
            return False
        width = len(next(csv.reader([text], delimiter=self.delimiter), []))
        return width == self.n_fields if self.n_fields is not None else width > 1

    def __next__(self) -> CsvRecord:
        start = self.next_line
        taken = [self._take()]
        why: list[tuple[str, str]] = []

        def source() -> Iterator[str]:
            yield taken[0]
            grown = 0
            while True:  # asked for more: a quoted field is open at the end of the last line
                line = self._peek()
                if line is None:
                    why.append((f"a quoted field opened on line {start} is not closed before the end "
                                "of the file; close the quote (\") or remove it", "unclosed_quote"))
                    return
                if self.starts_record(line):
                    why.append((f"a quoted field opened on line {start} is not closed on that line, "
                                f"and line {self.next_line} reads as a row of its own; close the quote "
                                "(\") or double it (\"\") inside the field", "unclosed_quote"))
                    return
                grown += len(line)
                if grown > self.max_field_chars:
                    why.append((f"a quoted field opened on line {start} runs past {self.max_field_chars:,} "
                                "characters (ingest.max_field_chars); close the quote or raise the limit",
                                "too_long"))
                    return
                taken.append(self._take())
                yield taken[-1]

        try:
            fields = next(csv.reader(source(), delimiter=self.delimiter, strict=False), [])
        except csv.Error as err:
            fields, why[:0] = [], [(f"not a valid CSV record ({err})", "csv_syntax")]
        text = _strip_break("".join(taken))
        if not why and len(taken) > 1 and not _record_pattern(self.delimiter).fullmatch(text):
            # the quote that closed the field was another line's opening quote: "a\n"b,...
            why.append((f"the quoted field opened on line {start} is closed on line {self.next_line - 1} "
                        f"by a quote not followed by {self.delimiter!r} or the line end; check the quotes "
                        "of these lines", "unclosed_quote"))
        if not why and max(map(len, fields), default=0) > self.max_field_chars:
            longest = max(range(len(fields)), key=lambda i: len(fields[i]))
            why.append((f"field {longest + 1} holds {len(fields[longest]):,} characters, more than "
                        f"the limit of {self.max_field_chars:,} (ingest.max_field_chars); shorten "
                        "it or raise the limit", "too_long"))
        return CsvRecord(start, fields, text, why[0] if why else None)
