"""Daily jobs: the platform's once-a-day work (policy starts and expiries, instalment dues,
lapses, renewal offers, reminders…) run for a business date, idempotent, resumable after a crash,
with progress, and for past dates (catch-up). Apps register their jobs in `AppConfig.ready()`
with `huibao.jobs.registry.register_job`; `manage.py run_daily` runs them by hand and
`manage.py run_scheduler` every day (docs/deploy.md, "Daily jobs")."""
