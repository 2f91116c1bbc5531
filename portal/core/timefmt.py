from datetime import timedelta

from django.utils.translation import gettext as _


def duration_words(delta: timedelta) -> str:
    """'3 d 4 h', '2 h 5 min', '40 min', 'just now': how long something has waited."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)s min") % {"minutes": minutes} if minutes else _("just now")
