"""BRIN indexes on the recompute timestamps the incremental rollup refresh reads.

The hours engine and the verdict writer rewrite rows in bulk, so new row versions land at the
end of the heap in time order: a BRIN index finds "computed since the last refresh" without
a full scan and costs almost nothing to maintain. Created here (the cockpit is their only
reader) and dropped with this migration."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cockpit", "0001_rollups"),
        ("attendance", "0002_learning_hours"),
        ("subsidies", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS cockpit_touch_attendance ON "
            "attendance_sessionattendance USING brin (computed_at);"
            "CREATE INDEX IF NOT EXISTS cockpit_touch_verdict ON "
            "subsidies_subsidyverdict USING brin (computed_at);",
            "DROP INDEX IF EXISTS cockpit_touch_attendance;"
            "DROP INDEX IF EXISTS cockpit_touch_verdict;"),
    ]
