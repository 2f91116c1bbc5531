from datetime import timedelta


def duration_words(delta: timedelta) -> str:
    """'3 d 4 h', '2 h 5 min', '40 min', 'just now': how long something has waited."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "just now"
