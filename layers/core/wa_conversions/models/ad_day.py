"""One ad's delivery on one day, as Meta's insights edge reports it: what the ad-spend store keeps and
the metrics read back (analytics.insights fetches it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AdDay(BaseModel):
    """One ad's delivery on one day, as the insights edge reports it (numbers come as strings)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    account_id: str
    day: str = Field(alias="date_start")
    ad_id: str
    ad_name: str | None = None
    adset_name: str | None = None
    campaign_name: str | None = None
    spend: float = 0.0
    impressions: int = 0
    clicks: int = 0
    currency: str | None = Field(default=None, alias="account_currency")

    @field_validator("spend", "impressions", "clicks", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return 0 if value in (None, "") else value
