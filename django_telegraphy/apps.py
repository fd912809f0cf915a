from django.apps import AppConfig
from django.core.signals import setting_changed


class TelegraphyConfig(AppConfig):
    name = "django_telegraphy"
    label = "telegraphy"
    verbose_name = "Telegraphy"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        # Only registrations here: system checks, the settings cache
        # invalidation, and the model CUD receivers of TELEGRAPHY["MODELS"].
        # No socket is opened before the first send.
        from . import checks  # noqa: F401 - registers the checks
        from .conf import get_config, reload_config
        from .signals import register_configured_models

        setting_changed.connect(reload_config, dispatch_uid="telegraphy:reload_config")
        register_configured_models(get_config())
