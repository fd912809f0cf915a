from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "board"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only registration here: every saved or deleted Item becomes
        # board.item.created / .updated / .deleted once its transaction
        # commits, with the keys pk (always added), title, room, created.
        import django_telegraphy as telegraphy

        from .models import Item

        telegraphy.register_model(Item, fields=["title", "room", "created"], audience=telegraphy.PUBLIC)
