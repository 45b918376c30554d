"""Open problems: a partner file with too many rejected rows, or refused as a whole,
stays a problem of its sender until a later file from the same sender replaces it.

The steward's check (``righe_scartate``) reads this at every run, so it stays red across
runs that bring nothing new from that sender, and turns green only when the corrected
file arrives. A later file replaces a problem file when it is loaded, comes from the
same sender (when the problem file's sender is known), states a reference date no
earlier and covers the same start (a cumulative or year-to-date file replaces the
earlier ones; next month's file does not replace this month's). A file of which neither
sender nor period is known (a symbolic link, a file refused before either was read) is
replaced only by a file of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class OpenProblem:
    file_name: str
    status: str  # 'rejected' (refused as a whole) or 'loaded' (too many rejected rows)
    error: str | None
    rows_data: int
    rows_rejected: int
    feedback_file: str | None
    received_seq: int


def open_problems(
    con: duckdb.DuckDBPyConnection, feed: str, max_rejected_share: float
) -> list[OpenProblem]:
    """The feed's files whose problems no later file of the same sender has replaced."""
    rows = con.execute(
        """
        select f.file_name, f.status, f.error, f.rows_data, f.rows_rejected, f.feedback_file,
               f.received_seq
        from ops.ingest_files as f
        where f.feed = ?
          and (
              f.status = 'rejected'
              or (f.status = 'loaded' and f.rows_data > 0 and f.rows_rejected > ? * f.rows_data)
          )
          and not exists (
              select 1 from ops.ingest_files as later
              where later.feed = f.feed
                and later.received_seq > f.received_seq
                and later.status = 'loaded'
                and (f.sender is null or later.sender = f.sender)
                and (f.reference_date is null or later.reference_date >= f.reference_date)
                -- knowing neither sender nor period: only the same file, sent again
                and (
                    f.sender is not null
                    or f.reference_date is not null
                    or later.file_name = f.file_name
                )
                and (
                    f.coverage_start is null
                    or later.coverage_start is null
                    or later.coverage_start <= f.coverage_start
                )
          )
        order by f.received_seq
        """,
        [feed, max_rejected_share],
    ).fetchall()
    return [OpenProblem(*row) for row in rows]
