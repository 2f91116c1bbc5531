from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy

from portal.core.models import OneTimeLink

LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("fr", "Français")]


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)  # None gives an unusable password
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username or "")


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: staff of the reseller, or a customer's contact. E-mail is the login."""

    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    is_staff = models.BooleanField(default=False, help_text=gettext_lazy("Can use the back-office and the admin."))
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    language = models.CharField(max_length=2, choices=LANGUAGES, default="en")
    sessions_epoch = models.PositiveIntegerField(
        default=0,
        help_text=gettext_lazy("Raised to sign the user out everywhere else; part of every session's check."),
    )
    companies = models.ManyToManyField("companies.Company", through="companies.Membership", related_name="users")
    last_company = models.ForeignKey(
        "companies.Company",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=gettext_lazy("The company whose pages the user opened last: where sign-in lands."),
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []  # type: ignore[misc]  # Django declares it a class constant

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def _get_session_auth_hash(self, secret=None) -> str:
        """Django's check of a session against the password (also under SECRET_KEY_FALLBACKS), with the epoch that
        "sign out everywhere else" raises. At epoch 0 it is Django's own, so sessions opened before the epoch
        existed stay valid."""
        if not self.sessions_epoch:
            return super()._get_session_auth_hash(secret=secret)  # type: ignore[misc]  # not in the stubs
        return salted_hmac(
            "portal.accounts.User.get_session_auth_hash",
            f"{self.password}:{self.sessions_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def landing_path(self) -> str:
        """Where sign-in lands: the back-office for staff, the last company used while the user still belongs to it,
        else the portal home (every company and request of the user)."""
        if self.is_staff:
            return "/backoffice/"
        if self.last_company_id and self.memberships.filter(company_id=self.last_company_id).exists():
            return f"/c/{self.last_company_id}/"
        return "/"

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email


class ApiToken(models.Model):
    """A bearer token for the JSON API; only its SHA-256 is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    mfa_verified = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"token of {self.user} until {self.expires_at:%Y-%m-%d}"


class ActivationLink(OneTimeLink):
    """A new user's link to set a password."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="activation_links")

    def __str__(self) -> str:
        return f"activation link for {self.user}"


class MfaEnrolmentLink(OneTimeLink):
    """A staff member's link to set up two-step sign-in: e-mailed to the account's own address, so that a
    password alone never enrols an authenticator."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_enrolment_links")

    def __str__(self) -> str:
        return f"two-step set-up link for {self.user}"


class PasswordResetLink(OneTimeLink):
    """A link to choose a new password, e-mailed to the account's own address on request."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_reset_links")

    def __str__(self) -> str:
        return f"password reset link for {self.user}"
