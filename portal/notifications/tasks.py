from django.tasks import task

from portal.notifications.services import email_send


@task()
def send_email(*, email_id: int) -> str:
    return email_send(email_id=email_id)
