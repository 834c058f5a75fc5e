from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from apps.analytics.services.rollups import rollups_recompute
from apps.analytics.tasks import rollups_recompute_task


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-01 or 2026-11-01T12:00).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Recompute the minute, hour and day rollups of a period from the raw call logs (times in UTC unless "
        "they say otherwise). Periods past log retention keep the rollups they have."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="start", required=True, help="start, ISO 8601 (inclusive)")
        parser.add_argument("--to", dest="end", help="end, ISO 8601 (exclusive; default: now)")
        parser.add_argument("--queue", action="store_true", help="hand the work to a Celery worker instead")

    def handle(self, *args, start: str, end: str | None, queue: bool, **options):
        start_at = _moment(start)
        end_at = _moment(end) if end else datetime.now(UTC)
        if start_at >= end_at:
            raise CommandError("--from must be before --to.")
        if end_at - start_at > timedelta(days=400):
            raise CommandError("The period is longer than 400 days: recompute it in parts.")
        if queue:
            result = rollups_recompute_task.delay(start_at.isoformat(), end_at.isoformat())
            self.stdout.write(f"queued task {result.id}")
            return
        counts = rollups_recompute(start=start_at, end=end_at)
        self.stdout.write(", ".join(f"{count} {granularity} rollups" for granularity, count in counts.items()))
