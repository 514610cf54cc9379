"""What every page gets: the settings (read once per script run), the database URL and the user."""

from __future__ import annotations

from dataclasses import dataclass

from plantpulse.app.auth import User
from plantpulse.data.core.config.settings import Settings


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    user: User

    @property
    def url(self) -> str:
        return self.settings.db_url

    @property
    def zone(self) -> str:
        return self.settings.timezone

    @property
    def normal_classes(self) -> tuple[str, ...]:
        """Fault classes that mean "no finding" (not shown as a top fault)."""
        return tuple(c.lower() for c in self.settings.alerts.normal_classes)

    @property
    def refresh_s(self) -> float:
        return self.settings.dashboard.refresh_seconds
