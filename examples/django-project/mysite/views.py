from django.db import connection
from django.http import HttpResponse

from . import __version__


def version(request):
    """The health route: the version, once the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse(__version__, content_type="text/plain; charset=utf-8")
