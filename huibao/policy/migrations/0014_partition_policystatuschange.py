"""A policy's status changes grow with every policy and never shrink: partition them by month on
`created_at` (PostgreSQL; huibao/core/partitioning.py). Nothing points at the table and it has no
unique key; the history reads go by (policy, at) on each month's index."""

from django.db import migrations

from huibao.core.partitioning import PartitionByMonth


class Migration(migrations.Migration):
    dependencies = [("policy", "0013_policy_seller")]

    operations = [PartitionByMonth("policystatuschange", "created_at")]
