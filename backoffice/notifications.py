"""Notifications for staff: the one place that creates them."""

from backoffice.models import Notification


def notify(*, user, kind, title, text="", link="", dedupe_key=""):
    """Create a notification; with a `dedupe_key`, at most one per user and key.

    Returns the new notification, or None when an equal one was already sent.
    """
    if user is None:
        return None
    if dedupe_key:
        notification, created = Notification.objects.get_or_create(
            user=user,
            dedupe_key=dedupe_key,
            defaults={"kind": kind, "title": title, "text": text, "link": link},
        )
        return notification if created else None
    return Notification.objects.create(user=user, kind=kind, title=title, text=text, link=link)


def unread_badge(request):
    """The sidebar badge: the user's unread notifications, or nothing."""
    count = Notification.objects.filter(user=request.user, read_at__isnull=True).count()
    return str(count) if count else ""
