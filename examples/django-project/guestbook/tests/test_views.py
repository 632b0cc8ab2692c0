from django.test import TestCase

from guestbook.models import Entry


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
