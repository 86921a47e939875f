from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class SignInForm(AuthenticationForm):
    username = forms.CharField(label=_("Username"), max_length=150, widget=forms.TextInput(
        attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "current-password"}))

    def clean(self):
        from skillguard.accounts.services import SIGN_IN_LOCK_MINUTES, sign_in_blocked

        username = self.cleaned_data.get("username")
        if username and sign_in_blocked(username):
            raise ValidationError(
                _("Too many failed sign-ins for this account. Try again in %(minutes)d "
                  "minutes."), code="locked", params={"minutes": SIGN_IN_LOCK_MINUTES})
        return super().clean()
