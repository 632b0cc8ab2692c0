from django.test import TestCase, override_settings

from guestbook.models import Entry

# The tests run without collectstatic: plain static names, not the manifest's hashed ones.
PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@override_settings(STORAGES=PLAIN_STATIC)
class GuestbookTests(TestCase):
    def test_sign_and_list(self):
        r = self.client.post("/", {"author": "ann", "text": "hello <there>"})
        self.assertEqual(r.status_code, 302)
        page = self.client.get("/").content.decode()
        self.assertIn('<li class="entry">ann: hello &lt;there&gt;</li>', page)
        self.assertEqual(Entry.objects.count(), 1)

    def test_version(self):
        from mysite import __version__

        self.assertEqual(self.client.get("/__version__").content.decode(), __version__)
