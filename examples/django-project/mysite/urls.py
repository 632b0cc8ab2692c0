from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("__version__", views.version),
    path("admin/", admin.site.urls),
    path("", include("guestbook.urls")),
]
