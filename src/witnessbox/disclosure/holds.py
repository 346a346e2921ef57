"""Why disclosure keeps footage: a live external share, and a disclosure package made within the
package hold period. Retention asks these rules (handed to it by bootstrap) among its holds, so a
share or a package is a reason to keep without retention reaching into disclosure's tables."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, SQLColumnExpression, String, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from witnessbox.disclosure.models import ExternalShare, ExternalShareItem
from witnessbox.disclosure.packages.models import DisclosurePackage

Reason = tuple[str, str, datetime | None, datetime | None]  # kind, description, since, until


@dataclass(frozen=True)
class DisclosureHolds:
    """Shares hold their items while live; packages for `package_hold` after they were made."""

    package_hold: timedelta

    def during(
        self, item_id: SQLColumnExpression[str], start: datetime, end: datetime
    ) -> ColumnElement[bool]:
        """True for items a share or package held at some moment of [start, end]."""
        ended = func.coalesce(ExternalShare.revoked_at, ExternalShare.expires_at)
        shared = exists().where(
            ExternalShareItem.item_id == item_id,
            ExternalShareItem.share_id == ExternalShare.id,
            ExternalShare.created_at <= end,
            ended > start,
            ExternalShare.expires_at > start,
        )
        # A package freezes its item ids in a JSON list; ids are 26-character ULIDs: the text match is exact.
        packaged = exists().where(
            DisclosurePackage.created_at <= end,
            DisclosurePackage.created_at > start - self.package_hold,
            cast(DisclosurePackage.item_ids, String).contains(item_id),
        )
        return or_(shared, packaged)

    def reasons(self, session: Session, item_id: str, now: datetime) -> list[Reason]:
        """The shares and packages holding one item now, described."""
        shares = session.scalars(
            select(ExternalShare)
            .join(ExternalShareItem, ExternalShareItem.share_id == ExternalShare.id)
            .where(
                ExternalShareItem.item_id == item_id,
                ExternalShare.revoked_at.is_(None),
                ExternalShare.expires_at > now,
            )
        )
        packages = session.scalars(
            select(DisclosurePackage).where(
                DisclosurePackage.created_at > now - self.package_hold,
                cast(DisclosurePackage.item_ids, String).contains(item_id),
            )
        )
        return [
            *(
                (
                    "external_share",
                    f"shared outside the force by {s.created_by_name}",
                    s.created_at,
                    s.expires_at,
                )
                for s in shares
            ),
            *(
                (
                    "package",
                    f"in disclosure package {p.title}",
                    p.created_at,
                    p.created_at + self.package_hold,
                )
                for p in packages
            ),
        ]
