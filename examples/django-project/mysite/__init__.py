"""mysite: the Django project of the guestbook example."""

__version__ = "2.0.0"
