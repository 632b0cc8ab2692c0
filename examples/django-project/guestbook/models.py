from django.db import models


class Entry(models.Model):
    text = models.CharField(max_length=2000)
    created = models.DateTimeField(auto_now_add=True)
    # Added in version 2 (migration 0002), with a database default so that version 1, after a
    # rollback, can still insert rows without it.
    author = models.CharField(max_length=100, db_default="anonymous")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "entries"

    def __str__(self):
        return f"{self.author}: {self.text[:40]}"
