"""The ``parquet`` connector: sensor Parquet files, wide or long, read in record batches.

Typed columns (float, int, timestamp with or without zone) are used as they are; text columns go
through the same exact converters as CSV text. Rows are numbered from 1 in file order, and a
quarantined row keeps its values as JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from plantpulse.connectors.base import SensorStream
from plantpulse.connectors.sensors.build import ChunkContext, ChunkMeta, build_long, build_wide
from plantpulse.connectors.sensors.convert import TimeParsing
from plantpulse.connectors.sensors.header import plan_columns
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.connectors.sensors.raw import TableRowText
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import SensorChunk, SensorSourceInfo


class ParquetConnector:
    """Reads sensor Parquet files; construct with :class:`SensorOptions`, then :meth:`open` a file."""

    name = "parquet"

    def __init__(self, options: SensorOptions | None = None) -> None:
        self.options = options or SensorOptions()

    def open(self, path: str | Path, source: str | None = None) -> SensorStream:
        path = Path(path)
        source = source or path.name
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as err:
            msg = f"{source}: not a readable Parquet file ({err}). Export it again or use the csv connector."
            raise InputDataError(msg) from err
        plan = plan_columns(list(parquet.schema_arrow.names), self.options, source)
        ctx = ChunkContext(source, plan, self.options, TimeParsing.of(self.options),
                           frozenset(self.options.na_values))
        info = SensorSourceInfo(
            source=source, layout=plan.layout, columns=plan.names,
            time_column=plan.names[plan.time_index], asset_column=plan.column(plan.asset_index),
            channels=plan.channels, timezone=self.options.timezone,
            progress_total=parquet.metadata.num_rows, progress_unit="rows",
        )
        return SensorStream(info, self._chunks(parquet, ctx))

    def _chunks(self, parquet: pq.ParquetFile, ctx: ChunkContext) -> Iterator[SensorChunk]:
        plan = ctx.plan
        columns = [plan.names[i] for i in plan.used]
        rows = self.options.rows_per_chunk(max(1, len(plan.value_indices)))
        build = build_wide if plan.layout == "wide" else build_long
        first = 1
        try:
            for batch in parquet.iter_batches(batch_size=rows, columns=columns):
                table = pa.Table.from_batches([batch])
                n = table.num_rows
                meta = ChunkMeta(np.arange(first, first + n, dtype=np.int64), TableRowText(table, first),
                                 rows=n, progress=first + n - 1)
                yield build(table, ctx, meta)
                first += n
        except pa.ArrowException as err:
            msg = f"{ctx.source}: Parquet data is corrupt after row {first - 1} ({err})."
            raise InputDataError(msg) from err
