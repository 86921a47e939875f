"""Monthly range partitions for high-volume fact tables.

Fact tables are declared ``PARTITION BY RANGE (<time column>)`` in raw SQL migrations, keep
``district_id`` in their primary key (the Citus distribution column, docs/adr/0005) and are
never the target of a foreign key. Partitions are created ahead of time by a periodic task
and on demand by writers that meet a month without one.
"""
from __future__ import annotations

import datetime as dt

from django.db import connection

FACT_TABLES = {  # table -> partition column
    "attendance_checkin": "occurred_at",
    "learning_learningevent": "occurred_at",
    "ingest_submission": "received_at",
    "ingest_submissionpart": "received_at",
    "video_recordingsegment": "started_at",
}


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_{month:%Y%m}"


def ensure_monthly_partitions(table: str, first: dt.date, last: dt.date) -> list[str]:
    """Create the partitions covering [first, last] that do not exist yet (idempotent)."""
    created = []
    month = month_start(first)
    with connection.cursor() as cur:
        while month <= last:
            name = partition_name(table, month)
            # Two writers meeting a new month at once: the second waits, then sees it.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
            # Partition bounds in Asia/Shanghai local months, the way reports count them.
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES "
                f"FROM ('{month:%Y-%m-%d} 00:00:00+08') TO ('{next_month(month):%Y-%m-%d} "
                f"00:00:00+08')")
            created.append(name)
            month = next_month(month)
    return created


def partitioned_table_sql(table: str, columns: str, partition_column: str,
                          primary_key: str, indexes: list[str]) -> str:
    """DDL for a partitioned fact table with its id sequence, default partition and indexes."""
    ddl = [f"CREATE SEQUENCE IF NOT EXISTS {table}_id_seq AS bigint",
           f"CREATE TABLE {table} (id bigint NOT NULL DEFAULT nextval('{table}_id_seq'), "
           f"{columns}, PRIMARY KEY ({primary_key})) PARTITION BY RANGE ({partition_column})",
           f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id",
           # Rows outside every monthly partition land here and are visible to monitoring,
           # never lost; the partition task moves nothing — writers create months first.
           f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT"]
    for i, cols in enumerate(indexes):
        ddl.append(f"CREATE INDEX {table}_ix{i} ON {table} ({cols})")
    return ";\n".join(ddl) + ";"
