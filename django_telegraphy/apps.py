from django.apps import AppConfig


class TelegraphyConfig(AppConfig):
    name = "django_telegraphy"
    label = "telegraphy"
    verbose_name = "Telegraphy"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        # Only registrations here: system checks and the model CUD receivers
        # of TELEGRAPHY["MODELS"]. conf.py and publisher.py connect their own
        # setting_changed receivers when imported. No socket is opened before
        # the first send.
        from . import checks  # noqa: F401 - registers the checks
        from .conf import get_config
        from .signals import register_configured_models

        register_configured_models(get_config())
