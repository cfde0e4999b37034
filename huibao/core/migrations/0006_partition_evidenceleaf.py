"""Evidence leaves grow by up to millions a day: partition them by month (PostgreSQL; see
huibao/core/partitioning.py). Nothing points at the table, and its one unique key holds
`created_at`."""

from django.db import migrations

from huibao.core.partitioning import PartitionByMonth


class Migration(migrations.Migration):
    dependencies = [("core", "0005_evidence")]

    operations = [PartitionByMonth("evidenceleaf", "created_at")]
