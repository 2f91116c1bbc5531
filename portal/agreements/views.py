from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.agreements.documents import agreement_text
from portal.agreements.models import SigningInvitation
from portal.agreements.seal import verify_pdf
from portal.agreements.services import (
    CodeTooSoon,
    SealUnavailable,
    Signature,
    SigningRefused,
    agreement_decline,
    agreement_sign,
    dead_reason,
    invitation_find,
    signing_code_send,
    signing_open,
)
from portal.core.links import LinkDead, link_view
from portal.core.net import client_ip
from portal.core.ratelimit import RateLimited, rate_limit, rate_limited_page, retry_after
from portal.core.templatetags.portal_forms import SummaryEntry
from portal.onboarding.pipeline import IllegalMove


def _signing_link(opener=lambda request, token: invitation_find(token)):
    """A page of the signing link: 404 for an unknown token, 410 saying why for a dead link."""
    return link_view(
        opener, dead_template="agreements/link_dead.html", dead_context=lambda dead: {"invitation": dead.link}
    )


def _ended(invitation: SigningInvitation) -> LinkDead:
    """The request left the signing step while the link was being used: the link has nothing more to do."""
    return LinkDead(invitation, dead_reason(invitation))


def _page(
    request: HttpRequest,
    invitation: SigningInvitation,
    token: str,
    *,
    errors: dict | None = None,
    notice: str = "",
    status: int = 200,
):
    agreement = invitation.agreement
    company = agreement.request.applicant
    labels = {
        "signing_authority": _("I have the authority to sign this agreement on behalf of %(company)s.")
        % {"company": company.legal_name},
        "full_name": _("Full name"),
        "job_title": _("Job title"),
        "code": _("Code sent to %(email)s") % {"email": invitation.signer_email},
    }
    errors = errors or {}
    return render(
        request,
        "agreements/sign.html",
        {
            "invitation": invitation,
            "agreement": agreement,
            "agreement_text": agreement_text(agreement.html),
            "req": agreement.request,
            "company": company,
            "errors": errors,
            "summary": [
                SummaryEntry(f"id_{field}", labels.get(field, ""), message) for field, message in errors.items()
            ],
            "notice": notice,
            "values": request.POST if request.method == "POST" else {},
            "token": token,
        },
        status=status,
    )


@_signing_link(lambda request, token: None if request.method == "POST" else signing_open(raw=token))
def sign(request: HttpRequest, invitation: SigningInvitation | None, token: str) -> HttpResponse:
    """The signing page from the contract e-mail: read, confirm authority, prove the mailbox, sign.

    A signature opens its link once, in the service, under the request's lock; a refusal opens it again for the page.
    """
    if invitation is not None:
        return _page(request, invitation, token)
    signature = Signature(
        full_name=request.POST.get("full_name", ""),
        job_title=request.POST.get("job_title", ""),
        signing_authority=request.POST.get("signing_authority") == "on",
        code=request.POST.get("code", ""),
        ip=client_ip(request) or None,
        user_agent=request.headers.get("User-Agent", ""),
    )
    try:
        agreement_sign(raw=token, signature=signature)
    except IllegalMove:
        raise _ended(invitation_find(token)) from None
    except SealUnavailable as error:
        return _page(request, invitation_find(token), token, errors={"code": str(error)}, status=503)
    except SigningRefused as refusal:
        return _page(request, invitation_find(token), token, errors={refusal.field: str(refusal)}, status=400)
    return redirect("agreements:signed", token=token)


@_signing_link(lambda request, token: invitation_find(token, used_ok=True))
def signed(request: HttpRequest, invitation: SigningInvitation, token: str) -> HttpResponse:
    """After signing: a thank-you that names nothing, since a used link opens nothing."""
    if invitation.used_at:
        return render(request, "agreements/signed.html")
    return redirect("agreements:sign", token=token)


@require_POST
@_signing_link()
def send_code(request: HttpRequest, invitation: SigningInvitation, token: str) -> HttpResponse:
    try:
        rate_limit(request, "signing_code", emails=[invitation.signer_email])
        invitation = signing_code_send(raw=token)
    except RateLimited as limited:
        if request.headers.get("HX-Request"):
            context = {"message": str(limited), "ok": False}
            return rate_limited_page(request, limited, "agreements/_code_status.html", context, flash=False)
        return retry_after(_page(request, invitation, token, errors={"code": str(limited)}), limited)
    except (CodeTooSoon, SigningRefused) as refusal:
        message, status = str(refusal), 429 if isinstance(refusal, CodeTooSoon) else 400
    else:
        message = _("We e-mailed a 6-digit code to %(email)s. It is valid for 10 minutes.") % {
            "email": invitation.signer_email
        }
        status = 200
    if request.headers.get("HX-Request"):
        return render(request, "agreements/_code_status.html", {"message": message, "ok": status == 200}, status=200)
    errors = {} if status == 200 else {"code": message}
    return _page(request, invitation, token, notice=message, errors=errors, status=status)


@_signing_link()
def document(request: HttpRequest, invitation: SigningInvitation, token: str) -> HttpResponse:
    """The agreement as sent, to read or download from the signing link."""
    return pdf_response(bytes(invitation.agreement.pdf), invitation.agreement.filename)


@_signing_link()
def decline(request: HttpRequest, invitation: SigningInvitation, token: str) -> HttpResponse:
    if request.method == "POST":
        try:
            agreement_decline(raw=token, reason=request.POST.get("reason", ""), ip=client_ip(request) or None)
        except IllegalMove:
            raise _ended(invitation) from None
        except SigningRefused as refusal:
            return render(
                request,
                "agreements/decline.html",
                {"invitation": invitation, "error": str(refusal), "token": token},
                status=400,
            )
        return render(request, "agreements/declined.html", {"req": invitation.agreement.request})
    return render(request, "agreements/decline.html", {"invitation": invitation, "token": token})


def pdf_response(data: bytes, filename: str, *, inline: bool = True) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def verify(request: HttpRequest) -> HttpResponse:
    """Anyone uploads a PDF and learns whether it is a signed agreement sealed by this portal, unchanged."""
    if request.method != "POST":
        return render(request, "agreements/verify.html", {})
    size = int(request.META.get("CONTENT_LENGTH") or 0)
    limit_mb = settings.VERIFY_MAX_UPLOAD // (1024 * 1024)
    if size > settings.VERIFY_MAX_UPLOAD:
        return render(
            request,
            "agreements/verify.html",
            {"error": _("This file is too large: a signed agreement is well under %(size)s MB.") % {"size": limit_mb}},
            status=413,
        )
    upload = request.FILES.get("file")
    if upload is None:
        return render(request, "agreements/verify.html", {"error": _("Choose the PDF file to check.")}, status=400)
    if (upload.size or 0) > settings.VERIFY_MAX_UPLOAD:
        return render(
            request,
            "agreements/verify.html",
            {"error": _("This file is too large: a signed agreement is well under %(size)s MB.") % {"size": limit_mb}},
            status=413,
        )
    data = upload.read()
    if not data.startswith(b"%PDF-"):
        return render(request, "agreements/verify.html", {"error": _("This file is not a PDF.")}, status=400)
    verdict = verify_pdf(data)
    return render(request, "agreements/verify.html", {"verdict": verdict, "filename": upload.name})
