from django.shortcuts import redirect, render

from .models import Entry


def index(request):
    if request.method == "POST":
        text = request.POST.get("text", "").strip()
        if text:
            Entry.objects.create(text=text[:2000], author=request.POST.get("author", "").strip()[:100] or "anonymous")
        return redirect("index")
    return render(request, "guestbook/index.html", {"entries": Entry.objects.all()})
