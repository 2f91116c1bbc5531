from django.db import models
from django.utils.translation import gettext_lazy, pgettext_lazy


class Stage(models.TextChoices):
    TO_VALIDATE = "to_validate", pgettext_lazy("request stage", "To Validate")
    CHANGES_REQUESTED = "changes_requested", pgettext_lazy("request stage", "Changes Requested")
    AWAITING_SIGNATURE = "awaiting_signature", pgettext_lazy("request stage", "Awaiting Signature")
    PROVISIONING = "provisioning", pgettext_lazy("request stage", "Provisioning")
    PROVISIONING_FAILED = "provisioning_failed", pgettext_lazy("request stage", "Provisioning Failed")
    COMPLETED = "completed", pgettext_lazy("request stage", "Completed")
    REJECTED = "rejected", pgettext_lazy("request stage", "Rejected")
    CANCELLED = "cancelled", pgettext_lazy("request stage", "Cancelled")


# Every allowed move, and nothing else: the pipeline refuses any pair not listed. A request is cancelled only
# when its tenant could not be created; before that, staff reject it.
MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.TO_VALIDATE: frozenset({Stage.AWAITING_SIGNATURE, Stage.CHANGES_REQUESTED, Stage.REJECTED}),
    Stage.CHANGES_REQUESTED: frozenset({Stage.TO_VALIDATE, Stage.REJECTED}),
    Stage.AWAITING_SIGNATURE: frozenset({Stage.PROVISIONING, Stage.TO_VALIDATE}),
    Stage.PROVISIONING: frozenset({Stage.COMPLETED, Stage.PROVISIONING_FAILED}),
    Stage.PROVISIONING_FAILED: frozenset({Stage.PROVISIONING, Stage.CANCELLED}),
    Stage.COMPLETED: frozenset(),
    Stage.REJECTED: frozenset(),
    Stage.CANCELLED: frozenset(),
}

# A request in one of these stages no longer holds its domain prefix.
CLOSED_STAGES = frozenset({Stage.REJECTED, Stage.CANCELLED})

# The article's steps, as the customer sees them on the request page.
PROGRESS_STEPS = [
    ("submitted", gettext_lazy("Request submitted")),
    ("confirmation", gettext_lazy("Confirmation e-mails sent")),
    ("validation", gettext_lazy("Information validated")),
    ("contract", gettext_lazy("Contract sent")),
    ("signed", gettext_lazy("Service agreement signed")),
    ("provisioning", gettext_lazy("Tenant created")),
    ("access", gettext_lazy("Portal access shared")),
]
