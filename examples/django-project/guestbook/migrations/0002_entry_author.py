"""Version 2: who signed."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("guestbook", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="entry",
            name="author",
            field=models.CharField(default="anonymous", max_length=100),
        ),
    ]
