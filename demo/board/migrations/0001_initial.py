from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                (
                    "room",
                    models.CharField(
                        choices=[("lobby", "Lobby"), ("kitchen", "Kitchen"), ("garden", "Garden")],
                        default="lobby",
                        max_length=32,
                    ),
                ),
                ("created", models.DateTimeField(auto_now_add=True, db_index=True)),
            ],
            options={"ordering": ["-created", "-id"]},
        ),
    ]
