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

from plantpulse.data.core.records import DEFAULT_MAX_FIELD_CHARS

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


class _Feed:
    """The lines one csv reader sees. Asked for a line while a record is under way (a quoted
    field open at the end of the last line), it applies the rule above and, to cut the record,
    reports the end of input for that record only (the csv module asks again for the next one)."""

    def __init__(self, owner: RecordReader) -> None:
        self.owner = owner
        self.taken: list[str] = []
        self.why: list[tuple[str, str]] = []
        self.grown = 0

    def start(self) -> None:
        self.taken, self.why, self.grown = [], [], 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        owner = self.owner
        if self.taken:
            self._continue(owner)
        line = owner.take()
        self.taken.append(line)
        return line

    def _continue(self, owner: RecordReader) -> None:
        first = owner.next_line - len(self.taken)
        line = owner.peek()
        if line is None:
            self.why.append((f"a quoted field opened on line {first} is not closed before the end of the "
                             "file; close the quote (\") or remove it", "unclosed_quote"))
            raise StopIteration
        if owner.starts_record(line):
            self.why.append((f"a quoted field opened on line {first} is not closed on that line, and line "
                             f"{owner.next_line} reads as a row of its own; close the quote (\") or double "
                             "it (\"\") inside the field", "unclosed_quote"))
            raise StopIteration
        self.grown += len(line)
        if self.grown > owner.max_field_chars:
            self.why.append((f"a quoted field opened on line {first} runs past {owner.max_field_chars:,} "
                             "characters (ingest.max_field_chars); close the quote or raise the limit",
                             "too_long"))
            raise StopIteration


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
        self._feed = _Feed(self)
        self._reader = csv.reader(self._feed, delimiter=delimiter, strict=False)

    def __iter__(self) -> RecordReader:
        return self

    def peek(self) -> str | None:
        if self._ahead is None:
            self._ahead = next(self._lines, None)
        return self._ahead

    def take(self) -> str:
        line = self.peek()
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
        feed = self._feed
        feed.start()
        start = self.next_line
        try:
            fields = next(self._reader)
        except StopIteration:
            if not feed.taken:
                raise
            fields = []
        except csv.Error as err:
            if not feed.taken:
                raise
            fields = []
            feed.why.insert(0, (f"not a valid CSV record ({err})", "csv_syntax"))
        why, taken = feed.why, feed.taken
        text = _strip_break(taken[0] if len(taken) == 1 else "".join(taken))
        if not why and len(taken) > 1 and not _record_pattern(self.delimiter).fullmatch(text):
            # the quote that closed the field was another line's opening quote: "a\n"b,...
            why.append((f"the quoted field opened on line {start} is closed on line {self.next_line - 1} "
                        f"by a quote not followed by {self.delimiter!r} or the line end; check the quotes "
                        "of these lines", "unclosed_quote"))
        if not why and len(text) > self.max_field_chars and max(map(len, fields), default=0) > self.max_field_chars:
            longest = max(range(len(fields)), key=lambda i: len(fields[i]))
            why.append((f"field {longest + 1} holds {len(fields[longest]):,} characters, more than "
                        f"the limit of {self.max_field_chars:,} (ingest.max_field_chars); shorten "
                        "it or raise the limit", "too_long"))
        return CsvRecord(start, fields, text, why[0] if why else None)
