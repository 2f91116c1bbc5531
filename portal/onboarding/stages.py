from django.db import models


class Stage(models.TextChoices):
    TO_VALIDATE = "to_validate", "To Validate"
    CHANGES_REQUESTED = "changes_requested", "Changes Requested"
    AWAITING_SIGNATURE = "awaiting_signature", "Awaiting Signature"
    PROVISIONING = "provisioning", "Provisioning"
    PROVISIONING_FAILED = "provisioning_failed", "Provisioning Failed"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


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
    ("submitted", "Request submitted"),
    ("confirmation", "Confirmation e-mails sent"),
    ("validation", "Information validated"),
    ("contract", "Contract sent"),
    ("signed", "Service agreement signed"),
    ("provisioning", "Tenant created"),
    ("access", "Portal access shared"),
]
