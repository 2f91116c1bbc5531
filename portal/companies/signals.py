"""What other parts of the portal hear from the companies: a profile that changed (Microsoft's billing profile
follows it)."""

from django.dispatch import Signal

# Sent once the change is committed; keyword arguments: `company` (the Company as saved) and `fields` (the names
# of the fields that changed, Company's own field names, or CONTACTS when its contacts changed).
profile_changed = Signal()
CONTACTS = "contacts"
