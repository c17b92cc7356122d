"""Celery tasks of the Settings area: thin doors onto plain functions."""

import smtplib

from celery import shared_task

from . import invitations


@shared_task(ignore_result=True, autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=30,
             retry_backoff_max=600, max_retries=8)
def send_invitation(member_id):
    invitations.send(member_id)
