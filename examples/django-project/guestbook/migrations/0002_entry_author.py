"""Version 2: who signed.

Rollback-safe (expand/contract): a rollback puts the previous release's code back and leaves the
database as this migration made it, so the new column has a database default (`db_default`).
Version 1, which does not know the column, goes on inserting rows; dropping or renaming a column
waits for a later release that no longer uses it.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("guestbook", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="entry",
            name="author",
            field=models.CharField(db_default="anonymous", max_length=100),
        ),
    ]
