from django.tasks import task


@task()
def send_email(*, email_id: int) -> str:
    from portal.notifications.services import email_send

    return email_send(email_id=email_id)
