from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoginConfig(AppConfig):
    name = "login"
    verbose_name = _("Logins and lockouts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.utils import timezone

        from .flows import make_dummy_hash, record_last_login
        from .middleware import mark_login

        def _start_session_clock(sender, request, user, **kwargs):
            # SECURITY.md 3: the absolute lifetime runs from each login.
            mark_login(request, timezone.now())

        user_logged_in.connect(_start_session_clock, dispatch_uid="sls-session-clock", weak=False)
        # Django's own receiver saves the user through Model.save(); ours is
        # an UPDATE of last_login alone.
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(record_last_login, dispatch_uid="update_last_login")
        # L2: the hash an unknown username is checked against exists before
        # the first request, so no worker answers its first unknown username
        # slower than a wrong password.
        make_dummy_hash()
        # L3: codes typed on portal pages (the online card's activation)
        # count toward the username's lock like login codes.
        from devices.guards import register_attempt_guard

        from .guards import code_attempt

        register_attempt_guard(code_attempt)
