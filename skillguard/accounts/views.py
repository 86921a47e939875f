"""Sign-in and sign-out: Django's views, with every attempt written to the audit trail."""
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.urls import reverse
from django.utils.translation import gettext as _

from skillguard.accounts.forms import SignInForm
from skillguard.audit.models import AuditAction
from skillguard.audit.services import record_sign_in


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)  # logs the user in
        record_sign_in(self.request.user, AuditAction.LOGIN)
        return response

    def form_invalid(self, form):
        # Unknown user names are logged too: repeated guesses are what an auditor looks for.
        record_sign_in(None, AuditAction.LOGIN_FAILED,
                       username=(form.data.get("username") or "")[:150])
        return super().form_invalid(form)


class SignOutView(auth_views.LogoutView):
    """POST only (Django 5): a link cannot sign anyone out."""

    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            record_sign_in(request.user, AuditAction.LOGOUT)
        return super().post(request, *args, **kwargs)


class ChangePasswordView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"

    def get_success_url(self):
        messages.success(self.request, _("Your password has been changed."))
        return reverse("home")
