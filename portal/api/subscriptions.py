"""A company's subscriptions at Microsoft, as last synced (hourly and after each change)."""

from datetime import datetime

from ninja import Router
from pydantic import Field

from portal.api import schemas
from portal.api.auth import SIGNED_IN
from portal.companies.permissions import Action, company_for
from portal.licences.models import Subscription

router = Router(tags=["licences"], auth=SIGNED_IN)
CompanyId = schemas.Path(..., ge=1, le=2**63 - 1)


class SubscriptionOut(schemas.Schema):
    id: int = Field(description="The portal's id: `subscription_id` of a change request.")
    catalog_item_id: str = Field(description="Microsoft's offer, PRODUCT:SKU:AVAILABILITY.")
    title: str
    quantity: int = Field(description="Seats.")
    term_duration: str = Field(description="P1M, P1Y or P3Y.")
    billing_cycle: str = Field(description="monthly or annual.")
    status: str = Field(description="Microsoft's: active, pending, suspended, expired, disabled, deleted.")
    auto_renew: bool
    commitment_end: datetime | None = Field(description="The term's last day; it renews after it.")
    cancellation_allowed_until: datetime | None = Field(
        description="Microsoft's cancellationAllowedUntilDate: the last moment to cancel, or null."
    )
    refundable_quantity: int = Field(description="Seats that can still be removed (Microsoft's refundableQuantity).")

    @staticmethod
    def resolve_title(subscription: Subscription) -> str:
        return subscription.friendly_name


@router.get(
    "/companies/{company_id}/subscriptions",
    response={
        200: list[SubscriptionOut],
        401: schemas.Error,
        403: schemas.Error,
        404: schemas.Error,
        422: schemas.Error,
    },
    summary="The subscriptions of a company of yours",
)
def subscriptions(request, company_id: int = CompanyId):
    company, _role = company_for(request.auth, company_id, Action.VIEW)
    return list(company.subscriptions.order_by("friendly_name", "pk"))
